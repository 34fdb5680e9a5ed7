import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def mask_stale(scores, fresh):
    return scores.masked_fill(~fresh[:, None, :], -math.inf)


class SnapshotAttention(nn.Module):
    """Attention over the last T order-book snapshots; stale ones (halts, auctions) are masked."""

    def __init__(self, d, heads=4):
        super().__init__()
        self.h = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)

    def forward(self, x, fresh):
        B, T, D = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.h, D // self.h).permute(2, 0, 3, 1, 4)
        s = torch.baddbmm(
            torch.zeros(B * self.h, T, T, device=x.device),
            q.reshape(B * self.h, T, -1),
            k.reshape(B * self.h, T, -1).transpose(1, 2),
            alpha=1.0 / math.sqrt(D // self.h),
        ).view(B, self.h, T, T)
        s = mask_stale(s.flatten(0, 1), fresh.repeat_interleave(self.h, 0)).view(B, self.h, T, T)
        a = F.softmax(s, dim=-1)
        return self.proj((a @ v).transpose(1, 2).reshape(B, T, D))


class CausalLevels(nn.Module):
    """Causal attention along time for the level embeddings."""

    def __init__(self, d, heads=4, T=100):
        super().__init__()
        self.h = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.register_buffer("future", torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1))

    def forward(self, x):
        B, T, D = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.h, D // self.h).permute(2, 0, 3, 1, 4)
        s = (q @ k.transpose(-2, -1)) / math.sqrt(D // self.h)
        s = s.masked_fill(self.future[:T, :T], float("-inf"))
        return x + (F.softmax(s, -1) @ v).transpose(1, 2).reshape(B, T, D)
