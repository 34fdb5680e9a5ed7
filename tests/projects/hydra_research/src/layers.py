import math

import torch
import torch.nn as nn


def attention(query, key, value, mask=None, dropout=None):
    d_k = query.size(-1)
    scores = torch.matmul(query, key.transpose(-2, -1)) / math.sqrt(d_k)
    if mask is not None:
        scores = scores.masked_fill(mask == 0, float("-inf"))
    p_attn = scores.softmax(dim=-1)
    if mask is not None:
        p_attn = p_attn.masked_fill(mask == 0, 0.0)
    if dropout is not None:
        p_attn = dropout(p_attn)
    return torch.matmul(p_attn, value), p_attn


def raw_attention(q, k, v):
    weights = torch.softmax(torch.einsum("bhqd,bhkd->bhqk", q, k), dim=-1)
    return torch.einsum("bhqk,bhkd->bhqd", weights, v)


class Block(nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        self.h = n_heads
        self.d_k = d_model // n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.o = nn.Linear(d_model, d_model)
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x, mask=None):
        b, t, _ = x.shape
        q, k, v = self.qkv(self.norm(x)).view(b, t, 3, self.h, self.d_k).unbind(2)
        q, k, v = (z.transpose(1, 2) for z in (q, k, v))
        if mask is not None:
            mask = mask[:, None, None, :]
        out, _ = attention(q, k, v, mask)
        out2 = raw_attention(q / math.sqrt(self.d_k), k, v)
        return x + self.o((out + out2).transpose(1, 2).reshape(b, t, -1))
