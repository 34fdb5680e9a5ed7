import torch
import torch.nn as nn
import torch.nn.functional as F
from layers import attend, causal_bias


class SASRecBlock(nn.Module):
    def __init__(self, d, heads, dropout):
        super().__init__()
        self.heads = heads
        self.head_dim = d // heads
        self.scale = self.head_dim**-0.5
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln1 = nn.LayerNorm(d)
        self.ln2 = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Dropout(dropout), nn.Linear(d, d))

    def _heads(self, x):
        b, n, _ = x.shape
        return x.view(b, n, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x, bias):
        b, n, d = x.shape
        q, k, v = (self._heads(t) for t in self.qkv(self.ln1(x)).chunk(3, dim=-1))
        h = attend(q, k, v, bias)
        x = x + self.proj(h.transpose(1, 2).reshape(b, n, d))
        return x + self.ff(self.ln2(x))


class SessionReranker(nn.Module):
    """Cross-attention of the session summary over candidate items (cosine)."""

    def __init__(self, d, tau=0.07):
        super().__init__()
        self.q = nn.Linear(d, d)
        self.k = nn.Linear(d, d)
        self.tau = tau

    def forward(self, summary, cand):
        q = F.normalize(self.q(summary), dim=-1)
        k = F.normalize(self.k(cand), dim=-1)
        return attend(q, k, cand, 0.0)


class SASRec(nn.Module):
    def __init__(self, n_items, d=64, heads=2, layers=2, max_len=50, dropout=0.2):
        super().__init__()
        self.item = nn.Embedding(n_items + 1, d, padding_idx=0)
        self.pos = nn.Embedding(max_len, d)
        self.blocks = nn.ModuleList(SASRecBlock(d, heads, dropout) for _ in range(layers))
        self.ln = nn.LayerNorm(d)

    def encode(self, seq):
        n = seq.size(1)
        h = self.item(seq) * self.item.embedding_dim**0.5 + self.pos(
            torch.arange(n, device=seq.device)
        )
        bias = causal_bias(n, seq.device)
        for blk in self.blocks:
            h = blk(h, bias)
        return self.ln(h)

    def forward(self, seq, pos_items, neg_items):
        h = self.encode(seq)
        pos_logits = (h * self.item(pos_items)).sum(-1)
        neg_logits = (h * self.item(neg_items)).sum(-1)
        return pos_logits, neg_logits
