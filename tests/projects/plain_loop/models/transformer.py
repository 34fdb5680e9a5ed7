import torch
import torch.nn as nn
from utils.attention import attend, dot_attention


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, n_heads, dropout=0.1):
        super().__init__()
        assert d_model % n_heads == 0
        self.d_k = d_model // n_heads
        self.h = n_heads
        self.scale = self.d_k**-0.5
        self.linears = nn.ModuleList([nn.Linear(d_model, d_model) for _ in range(4)])
        self.dropout = nn.Dropout(dropout)

    def forward(self, query, key, value, mask=None):
        nbatches = query.size(0)
        q, k, v = [
            lin(x).view(nbatches, -1, self.h, self.d_k).transpose(1, 2)
            for lin, x in zip(self.linears, (query, key, value))
        ]
        x, self.attn = attend(q * self.scale, k, v, mask=mask)
        x = x.transpose(1, 2).contiguous().view(nbatches, -1, self.h * self.d_k)
        return self.linears[-1](x)


class CrossPool(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.seed = nn.Parameter(torch.randn(1, 1, dim))
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)

    def forward(self, x):
        q = self.seed.expand(x.size(0), -1, -1)
        return dot_attention(q, self.k(x), self.v(x)).squeeze(1)


class Encoder(nn.Module):
    def __init__(self, in_dim, d_model=128, n_heads=8, n_layers=2):
        super().__init__()
        self.embed = nn.Linear(in_dim, d_model)
        self.layers = nn.ModuleList([MultiHeadAttention(d_model, n_heads) for _ in range(n_layers)])
        self.pool = CrossPool(d_model)
        self.out = nn.Linear(d_model, 1)

    def forward(self, x, mask=None):
        h = self.embed(x)
        for layer in self.layers:
            h = h + layer(h, h, h, mask)
        return self.out(h).squeeze(-1), self.pool(h)
