import torch
from torch import nn


def mask_padding(scores, pad):
    return scores.masked_fill(pad[:, None, None, :], float("-inf"))


class CausalPool(nn.Module):
    def __init__(self, d, window):
        super().__init__()
        self.qk = nn.Linear(d, 2 * d)
        self.register_buffer("tri", torch.tril(torch.ones(window, window, dtype=torch.bool)))

    def forward(self, h):
        n = h.shape[1]
        q, k = self.qk(h).chunk(2, dim=-1)
        s = torch.bmm(q, k.transpose(1, 2)) * q.shape[-1] ** -0.5
        s = s.masked_fill(~self.tri[:n, :n], float("-inf"))
        return torch.bmm(s.softmax(-1), h)
