import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class DNAConfig:
    in_channels: int = 5
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    n_classes: int = 2
    dropout: float = 0.1


def qk_logits(q, k):
    return torch.einsum("bd,btd->bt", q, k)


class SelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd)
        self.n_head = config.n_head
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x, pad):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(C, dim=2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(pad[:, None, None, :], float("-inf"))
        att = F.softmax(att, dim=-1)
        att = self.drop(att)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = SelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = nn.Sequential(
            nn.Linear(config.n_embd, 4 * config.n_embd),
            nn.GELU(),
            nn.Linear(4 * config.n_embd, config.n_embd),
        )

    def forward(self, x, pad):
        x = x + self.attn(self.ln_1(x), pad)
        return x + self.mlp(self.ln_2(x))


class AttentionPool(nn.Module):
    def __init__(self, n_embd):
        super().__init__()
        self.query = nn.Linear(n_embd, n_embd)
        self.key = nn.Linear(n_embd, n_embd)

    def forward(self, h, pad):
        keep = (~pad).unsqueeze(-1).type_as(h)
        summary = (h * keep).sum(1) / keep.sum(1).clamp(min=1.0)
        k = self.key(h)
        w = qk_logits(self.query(summary), k)
        w = w.masked_fill(pad, torch.finfo(w.dtype).min)
        w = w.softmax(dim=-1)
        return (w.unsqueeze(-1) * h).sum(1)


class DNAClassifier(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.stem = nn.Conv1d(config.in_channels, config.n_embd, kernel_size=9, padding=4)
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.pool = AttentionPool(config.n_embd)
        self.head = nn.Linear(config.n_embd, config.n_classes)

    def forward(self, onehot, pad, targets=None):
        x = self.stem(onehot.transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x, pad)
        logits = self.head(self.pool(self.ln_f(x), pad))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits, targets)
        return logits, loss
