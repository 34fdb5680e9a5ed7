import math

import torch
import torch.nn.functional as F
from layers import DenseGeneral, attention_logits
from torch import nn


class DiagMaskedBlock(nn.Module):
    def __init__(self, d_model, heads, head_dim):
        super().__init__()
        self.q = DenseGeneral(d_model, heads, head_dim)
        self.k = DenseGeneral(d_model, heads, head_dim)
        self.v = DenseGeneral(d_model, heads, head_dim)
        self.o = nn.Linear(heads * head_dim, d_model)
        self.ln = nn.LayerNorm(d_model)
        self.temperature = head_dim**0.5

    def forward(self, x):
        b, n, _ = x.shape
        q, k, v = self.q(x), self.k(x), self.v(x)
        diag = torch.eye(n, dtype=torch.bool, device=x.device)
        w = attention_logits(q / self.temperature, k).masked_fill(diag, -1e9)
        w = torch.softmax(w, dim=-1)
        y = torch.einsum("bhqk,bkhd->bqhd", w, v).reshape(b, n, -1)
        return self.ln(x + self.o(y)), w


class TimeBlock(nn.Module):
    def __init__(self, d_model, heads, head_dim):
        super().__init__()
        self.q = DenseGeneral(d_model, heads, head_dim)
        self.k = DenseGeneral(d_model, heads, head_dim)
        self.v = DenseGeneral(d_model, heads, head_dim)
        self.o = nn.Linear(heads * head_dim, d_model)
        self.ln = nn.LayerNorm(d_model)

    def forward(self, x):
        b, n, _ = x.shape
        q, k, v = self.q(x), self.k(x), self.v(x)
        w = F.softmax(attention_logits(q, k), dim=-1)
        y = torch.einsum("bhqk,bkhd->bqhd", w, v).reshape(b, n, -1)
        return self.ln(x + self.o(y))


class SAITS(nn.Module):
    def __init__(self, n_steps, n_features, d_model=256, heads=4, head_dim=64):
        super().__init__()
        self.embed = nn.Linear(2 * n_features, d_model)
        self.pos = nn.Parameter(torch.randn(1, n_steps, d_model) / math.sqrt(d_model))
        self.dmsa = DiagMaskedBlock(d_model, heads, head_dim)
        self.time = TimeBlock(d_model, heads, head_dim)
        self.reduce = nn.Linear(d_model, n_features)

    def forward(self, x, observed):
        h = self.embed(torch.cat([x * observed, observed], dim=-1)) + self.pos
        h, attn = self.dmsa(h)
        h = self.time(h)
        return self.reduce(h), attn
