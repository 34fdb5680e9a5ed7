import torch
import torch.nn.functional as F
from torch import nn


class InteractingLayer(nn.Module):
    """Multi-head self-attention across feature fields (AutoInt)."""

    def __init__(self, embed_dim, heads=2, use_res=True):
        super().__init__()
        self.heads = heads
        self.W_q = nn.Linear(embed_dim, embed_dim, bias=False)
        self.W_k = nn.Linear(embed_dim, embed_dim, bias=False)
        self.W_v = nn.Linear(embed_dim, embed_dim, bias=False)
        self.W_res = nn.Linear(embed_dim, embed_dim, bias=False) if use_res else None

    def forward(self, e):
        b, f, d = e.shape
        split = lambda t: t.view(b, f, self.heads, d // self.heads).transpose(1, 2)
        q, k, v = split(self.W_q(e)), split(self.W_k(e)), split(self.W_v(e))
        scores = torch.einsum("bhfd,bhgd->bhfg", q, k)
        attn = F.softmax(scores, dim=-1)
        out = (attn @ v).transpose(1, 2).reshape(b, f, d)
        if self.W_res is not None:
            out = out + self.W_res(e)
        return F.relu(out)


class AutoInt(nn.Module):
    def __init__(self, n_dense_features, field_dims, embed_dim=16, layers=3, heads=2):
        super().__init__()
        self.embedding = nn.Embedding(sum(field_dims), embed_dim)
        self.register_buffer("offsets", torch.tensor([0, *field_dims[:-1]]).cumsum(0))
        self.dense_embed = nn.Linear(n_dense_features, embed_dim * n_dense_features)
        self.n_dense = n_dense_features
        self.layers = nn.ModuleList(InteractingLayer(embed_dim, heads) for _ in range(layers))
        n_fields = len(field_dims) + n_dense_features
        self.linear = nn.Embedding(sum(field_dims), 1)
        self.head = nn.Linear(n_fields * embed_dim, 1)

    def forward(self, sparse, dense):
        idx = sparse + self.offsets
        e = torch.cat(
            [self.embedding(idx), self.dense_embed(dense).view(len(dense), self.n_dense, -1)], 1
        )
        for layer in self.layers:
            e = layer(e)
        return self.head(e.flatten(1)).squeeze(-1) + self.linear(idx).sum((1, 2))
