import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def attend(q, k, v, mask=None):
    w = torch.einsum("bhtd,bhsd->bhts", q, k)
    if mask is not None:
        w = w.masked_fill(mask, float("-inf"))
    return torch.einsum("bhts,bhsd->bhtd", w.softmax(dim=-1), v)


class CausalSelfAttention(nn.Module):
    def __init__(self, dim, heads, max_len):
        super().__init__()
        self.heads = heads
        self.scale = 1.0 / math.sqrt(dim // heads)
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.o = nn.Linear(dim, dim, bias=False)
        self.register_buffer(
            "causal", torch.triu(torch.ones(max_len, max_len, dtype=torch.bool), 1)
        )

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        y = attend(q * self.scale, k, v, self.causal[:t, :t])
        return self.o(y.transpose(1, 2).reshape(b, t, d))


class PromptCrossAttention(nn.Module):
    def __init__(self, dim, heads, text_dim):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim, bias=False)
        self.kv = nn.Linear(text_dim, 2 * dim, bias=False)
        self.o = nn.Linear(dim, dim, bias=False)

    def forward(self, x, text):
        b, t, d = x.shape
        q = self.q(x).view(b, t, self.heads, -1).transpose(1, 2)
        k, v = self.kv(text).view(b, text.shape[1], 2, self.heads, -1).permute(2, 0, 3, 1, 4)
        return self.o(attend(q, k, v).transpose(1, 2).reshape(b, t, d))


class DecoderLayer(nn.Module):
    def __init__(self, dim, heads, text_dim, max_len):
        super().__init__()
        self.n1, self.n2, self.n3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.self_attn = CausalSelfAttention(dim, heads, max_len)
        self.cross = PromptCrossAttention(dim, heads, text_dim)
        self.ff = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x, text):
        x = x + self.self_attn(self.n1(x))
        x = x + self.cross(self.n2(x), text)
        return x + self.ff(self.n3(x))


class CodecLM(nn.Module):
    """Delay-pattern LM over Q residual codebooks of a neural audio codec."""

    def __init__(self, n_q=8, card=1024, dim=768, heads=12, depth=12, text_dim=512, max_len=1500):
        super().__init__()
        self.emb = nn.ModuleList(nn.Embedding(card + 1, dim) for _ in range(n_q))
        self.layers = nn.ModuleList(
            DecoderLayer(dim, heads, text_dim, max_len) for _ in range(depth)
        )
        self.norm = nn.LayerNorm(dim)
        self.heads = nn.ModuleList(nn.Linear(dim, card) for _ in range(n_q))

    def forward(self, codes, text):
        x = sum(e(codes[:, i]) for i, e in enumerate(self.emb))
        for layer in self.layers:
            x = layer(x, text)
        x = self.norm(x)
        return torch.stack([h(x) for h in self.heads], dim=1)

    @torch.no_grad()
    def sample_next(self, codes, text, top_k=250, temperature=1.0):
        logits = self(codes, text)[:, :, -1] / temperature
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
        return torch.multinomial(F.softmax(logits, dim=-1).flatten(0, 1), 1).view(
            codes.shape[0], -1
        )
