import torch
import torch.nn as nn
import torch.nn.functional as F


def skew(rel):
    b, h, l, _ = rel.shape
    rel = F.pad(rel, (1, 0))
    return rel.reshape(b, h, l + 1, l)[:, :, 1:]


def rel_logits(q, k, e):
    qk = torch.matmul(q, k.transpose(-2, -1))
    srel = skew(torch.matmul(q, e.transpose(-2, -1)))
    return qk + srel


class RelativeSelfAttention(nn.Module):
    def __init__(self, d, heads, max_len):
        super().__init__()
        self.h, self.dh = heads, d // heads
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.E = nn.Parameter(torch.randn(max_len, d // heads) * 0.02)
        self.register_buffer("causal", torch.tril(torch.ones(max_len, max_len)))

    def forward(self, x):
        b, l, d = x.shape
        q, k, v = self.qkv(x).view(b, l, 3, self.h, self.dh).permute(2, 0, 3, 1, 4)
        logits = rel_logits(q, k, self.E[-l:])
        logits = logits.masked_fill(self.causal[:l, :l] == 0, float("-inf"))
        w = F.softmax(logits, dim=-1)
        return self.out((w @ v).transpose(1, 2).reshape(b, l, d))


class MusicTransformer(nn.Module):
    def __init__(self, vocab, d=256, heads=8, layers=6, max_len=2048):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.blocks = nn.ModuleList(RelativeSelfAttention(d, heads, max_len) for _ in range(layers))
        self.norms = nn.ModuleList(nn.LayerNorm(d) for _ in range(layers))
        self.ff = nn.ModuleList(
            nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
            for _ in range(layers)
        )
        self.head = nn.Linear(d, vocab)

    def forward(self, tokens):
        h = self.emb(tokens)
        for attn, norm, ff in zip(self.blocks, self.norms, self.ff):
            h = h + attn(norm(h))
            h = h + ff(h)
        return self.head(h)
