"""Audio spectrogram transformer for multi-label tagging (AudioSet-style)."""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def attend(q, k, v):
    weights = torch.matmul(q, k.transpose(-2, -1))
    weights = F.softmax(weights, dim=-1)
    return torch.matmul(weights, v)


class MHSA(nn.Module):
    def __init__(self, dim, heads=4, dropout=0.1):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        out = attend(q, k, v)
        out = out.transpose(1, 2).reshape(b, t, c)
        return self.drop(self.proj(out))


class FrameAttention(nn.Module):
    """Second attention used for pooling frames into a clip embedding."""

    def __init__(self, dim):
        super().__init__()
        self.query = nn.Parameter(torch.randn(1, 1, dim))
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.dim = dim

    def forward(self, x):
        q = self.query.expand(x.size(0), -1, -1)
        k = self.k(x)
        logits = torch.bmm(q, k.transpose(1, 2)) / math.sqrt(self.dim)
        w = logits.softmax(dim=-1)
        return torch.bmm(w, self.v(x)).squeeze(1)


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.n1 = nn.LayerNorm(dim)
        self.attn = MHSA(dim, heads)
        self.n2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x):
        x = x + self.attn(self.n1(x))
        return x + self.mlp(self.n2(x))


class AudioTagger(nn.Module):
    def __init__(self, feat_dim, d_model, n_tags, depth=4, heads=4):
        super().__init__()
        self.inp = nn.Linear(feat_dim, d_model)
        self.blocks = nn.ModuleList(Block(d_model, heads) for _ in range(depth))
        self.pool = FrameAttention(d_model)
        self.head = nn.Linear(d_model, n_tags)

    def forward(self, spec):
        h = self.inp(spec)
        for blk in self.blocks:
            h = blk(h)
        return self.head(self.pool(h))


def build_model(cfg, feat_dim_override=None):
    feat_dim = cfg["model"]["feat_dim"]
    if feat_dim_override:
        feat_dim = feat_dim_override
    return AudioTagger(feat_dim, cfg["model"]["d_model"], cfg["model"]["n_tags"])
