import torch
import torch.nn.functional as F
from torch import nn


class CrossAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.h = heads
        self.q = nn.Linear(d, d)
        self.k = nn.Linear(d, d)
        self.v = nn.Linear(d, d)
        self.o = nn.Linear(d, d)

    def _split(self, t):
        b, n, d = t.shape
        return t.view(b, n, self.h, d // self.h).transpose(1, 2).reshape(b * self.h, n, d // self.h)

    def _scores(self, q, k):
        return torch.bmm(q, k.transpose(1, 2))

    def forward(self, x, frames, frame_pad):
        b, n, d = x.shape
        q, k, v = self._split(self.q(x)), self._split(self.k(frames)), self._split(self.v(frames))
        s = self._scores(q, k).view(b, self.h, n, -1)
        s = s.masked_fill(frame_pad[:, None, None, :], float("-inf"))
        a = F.softmax(s, dim=-1).view(b * self.h, n, -1)
        y = torch.bmm(a, v).view(b, self.h, n, -1).transpose(1, 2).reshape(b, n, d)
        return self.o(y)


class CausalSelfAttention(nn.Module):
    def __init__(self, d, heads, max_len=64):
        super().__init__()
        self.h = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.o = nn.Linear(d, d)
        self.register_buffer(
            "causal", torch.triu(torch.ones(max_len, max_len, dtype=torch.bool), 1)
        )

    def forward(self, x):
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.h, -1).permute(2, 0, 3, 1, 4)
        s = torch.matmul(q, k.transpose(-2, -1)).div(q.shape[-1] ** 0.5)
        s = s.masked_fill(self.causal[:n, :n], float("-inf"))
        return self.o((s.softmax(-1) @ v).transpose(1, 2).reshape(b, n, d))


class CaptionDecoder(nn.Module):
    def __init__(self, vocab, d=512, heads=8, layers=3, frame_dim=768):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(64, d)
        self.frame_proj = nn.Linear(frame_dim, d)
        self.self_attn = nn.ModuleList(CausalSelfAttention(d, heads) for _ in range(layers))
        self.cross = nn.ModuleList(CrossAttention(d, heads) for _ in range(layers))
        self.lns = nn.ModuleList(nn.LayerNorm(d) for _ in range(2 * layers))
        self.lm_head = nn.Linear(d, vocab)

    def forward(self, tokens, frames, frame_pad):
        x = self.tok(tokens) + self.pos(torch.arange(tokens.shape[1], device=tokens.device))
        mem = self.frame_proj(frames)
        for i, (sa, ca) in enumerate(zip(self.self_attn, self.cross)):
            x = x + sa(self.lns[2 * i](x))
            x = x + ca(self.lns[2 * i + 1](x), mem, frame_pad)
        return self.lm_head(x)
