import torch.nn as nn

from .layers import Block


class Transformer(nn.Module):
    def __init__(self, input_dim, d_model, n_heads, n_layers):
        super().__init__()
        self.proj = nn.Linear(input_dim, d_model)
        self.blocks = nn.ModuleList([Block(d_model, n_heads) for _ in range(n_layers)])
        self.head = nn.Linear(d_model, 1)

    def forward(self, x, mask=None):
        h = self.proj(x)
        for blk in self.blocks:
            h = blk(h, mask)
        return self.head(h).squeeze(-1)


def build_model(mcfg):
    return Transformer(mcfg.input_dim, mcfg.d_model, mcfg.n_heads, mcfg.n_layers)
