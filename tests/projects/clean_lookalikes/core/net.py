import torch.nn as nn

from core.ops import attend, masked_attend


class Net(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.inp = nn.Linear(config.input_dim, config.hidden)
        self.q = nn.Linear(config.hidden, config.hidden)
        self.k = nn.Linear(config.hidden, config.hidden)
        self.v = nn.Linear(config.hidden, config.hidden)
        self.scale = config.hidden**-0.5
        self.out = nn.Linear(config.hidden, 1)

    def forward(self, x, key_mask):
        h = self.inp(x)
        q, k, v = self.q(h)[:, None], self.k(h)[:, None], self.v(h)[:, None]
        q *= self.scale
        h = h + attend(q, k, v, causal=True).squeeze(1)
        h = h + masked_attend(q, k, v, key_mask).squeeze(1)
        return self.out(h).squeeze(-1), h
