import math

import torch
import torch.nn as nn


def edge_attention(q, k, v, edge_bias, node_keep):
    """Graphormer-style attention: dot product plus a learned bias per atom pair."""
    logits = torch.einsum("bhid,bhjd->bhij", q, k) + edge_bias
    logits = logits.masked_fill(~node_keep[:, None, None, :], float("-inf"))
    attn = logits.softmax(dim=-1)
    return torch.einsum("bhij,bhjd->bhid", attn, v)


class EdgeBias(nn.Module):
    def __init__(self, n_bond_types, n_heads, max_dist=8):
        super().__init__()
        self.bond = nn.Embedding(n_bond_types + 1, n_heads, padding_idx=0)
        self.dist = nn.Embedding(max_dist + 2, n_heads)

    def forward(self, bonds, spd):
        bias = self.bond(bonds) + self.dist(spd.clamp(max=self.dist.num_embeddings - 1))
        return bias.permute(0, 3, 1, 2)


class GraphAttentionLayer(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.h = heads
        self.dh = dim // heads
        self.scale = 1.0 / math.sqrt(self.dh)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, 2 * dim), nn.SiLU(), nn.Linear(2 * dim, dim))

    def forward(self, x, edge_bias, node_keep):
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm(x)).view(b, n, 3, self.h, self.dh).permute(2, 0, 3, 1, 4)
        y = edge_attention(q * self.scale, k, v, edge_bias, node_keep)
        x = x + self.out(y.transpose(1, 2).reshape(b, n, d))
        return x + self.ff(x)
