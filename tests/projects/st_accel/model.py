import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def qk_scores(q, k):
    return torch.einsum("bhid,bhjd->bhij", q, k)


def split_heads(x, heads):
    b, n, d = x.shape
    return x.view(b, n, heads, d // heads).transpose(1, 2)


class SelfAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x, pad):
        q, k, v = (split_heads(t, self.heads) for t in self.qkv(x).chunk(3, dim=-1))
        att = (q @ k.transpose(-2, -1)) * self.scale
        att = att.masked_fill(pad[:, None, None, :], torch.finfo(att.dtype).min)
        y = att.softmax(dim=-1) @ v
        return self.out(y.transpose(1, 2).flatten(2))


class CrossAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, y, memory, mem_pad):
        q = split_heads(self.q(y), self.heads)
        k, v = (split_heads(t, self.heads) for t in self.kv(memory).chunk(2, dim=-1))
        logits = qk_scores(q, k)
        logits = logits.masked_fill(mem_pad[:, None, None, :], -1e4)
        w = F.softmax(logits, dim=-1)
        return self.out((w @ v).transpose(1, 2).flatten(2))


class CausalSelfAttention(nn.Module):
    def __init__(self, dim, heads, max_len=512):
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.register_buffer(
            "causal", torch.triu(torch.ones(max_len, max_len, dtype=torch.bool), 1)
        )

    def forward(self, x):
        t = x.shape[1]
        q, k, v = (split_heads(z, self.heads) for z in self.qkv(x).chunk(3, dim=-1))
        s = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(self.head_dim)
        s = s.masked_fill(self.causal[:t, :t], float("-inf"))
        return self.out((s.softmax(-1) @ v).transpose(1, 2).flatten(2))


class SpeechTranslator(nn.Module):
    def __init__(self, n_mels, vocab, dim=256, heads=4, layers=4):
        super().__init__()
        self.subsample = nn.Sequential(
            nn.Conv1d(n_mels, dim, 3, stride=2, padding=1),
            nn.GELU(),
            nn.Conv1d(dim, dim, 3, stride=2, padding=1),
            nn.GELU(),
        )
        self.enc = nn.ModuleList(SelfAttention(dim, heads) for _ in range(layers))
        self.emb = nn.Embedding(vocab, dim)
        self.dec_self = nn.ModuleList(CausalSelfAttention(dim, heads) for _ in range(layers))
        self.dec_cross = nn.ModuleList(CrossAttention(dim, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab)

    def forward(self, feats, feat_pad, tokens):
        h = self.subsample(feats.transpose(1, 2)).transpose(1, 2)
        pad = feat_pad[:, ::4][:, : h.shape[1]]
        for blk in self.enc:
            h = h + blk(h, pad)
        y = self.emb(tokens)
        for sa, ca in zip(self.dec_self, self.dec_cross):
            y = y + sa(y)
            y = y + ca(y, h, pad)
        return self.head(self.norm(y))
