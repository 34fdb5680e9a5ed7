import math
from math import sqrt

import torch
import torch.nn as nn


class AnomalyAttention(nn.Module):
    def __init__(self, win_size, attention_dropout=0.0, output_attention=True):
        super().__init__()
        self.output_attention = output_attention
        self.dropout = nn.Dropout(attention_dropout)
        idx = torch.arange(win_size)
        self.register_buffer("distances", (idx[:, None] - idx[None, :]).abs().float())

    def forward(self, queries, keys, values, sigma):
        B, L, H, E = queries.shape
        scores = torch.einsum("blhe,bshe->bhls", queries, keys)
        series = self.dropout(torch.softmax(scores, dim=-1))
        V = torch.einsum("bhls,bshd->blhd", series, values)

        sigma = sigma.transpose(1, 2)
        sigma = torch.sigmoid(sigma * 5) + 1e-5
        sigma = torch.pow(3, sigma) - 1
        sigma = sigma.unsqueeze(-1).repeat(1, 1, 1, L)
        prior = (
            1.0
            / (math.sqrt(2 * math.pi) * sigma)
            * torch.exp(-(self.distances[:L, :L] ** 2) / 2 / (sigma**2))
        )
        return V.contiguous(), series, prior, sigma


class AttentionLayer(nn.Module):
    def __init__(self, attention, d_model, n_heads):
        super().__init__()
        d_keys = d_model // n_heads
        self.inner_attention = attention
        self.query_projection = nn.Linear(d_model, d_keys * n_heads)
        self.key_projection = nn.Linear(d_model, d_keys * n_heads)
        self.value_projection = nn.Linear(d_model, d_keys * n_heads)
        self.sigma_projection = nn.Linear(d_model, n_heads)
        self.out_projection = nn.Linear(d_keys * n_heads, d_model)
        self.n_heads = n_heads

    def forward(self, x):
        B, L, _ = x.shape
        H = self.n_heads
        q = self.query_projection(x).view(B, L, H, -1)
        k = self.key_projection(x).view(B, L, H, -1)
        v = self.value_projection(x).view(B, L, H, -1)
        out, series, prior, sigma = self.inner_attention(
            q, k, v, self.sigma_projection(x).view(B, L, H)
        )
        return self.out_projection(out.view(B, L, -1)), series, prior, sigma


class TemporalPool(nn.Module):
    def __init__(self, d_model):
        super().__init__()
        self.q = nn.Parameter(torch.randn(1, 1, d_model))
        self.k = nn.Linear(d_model, d_model)

    def forward(self, x):
        w = torch.softmax(self.q @ self.k(x).transpose(1, 2) / sqrt(x.shape[-1]), dim=-1)
        return (w @ x).squeeze(1)
