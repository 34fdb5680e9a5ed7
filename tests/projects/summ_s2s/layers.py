import math

import torch.nn.functional as F
from torch import nn


def attend(q, k, v, key_padding=None, causal=None):
    scores = q @ k.transpose(-2, -1)
    if causal is not None:
        scores = scores.masked_fill(causal, float("-inf"))
    if key_padding is not None:
        scores = scores.masked_fill(key_padding[:, None, None, :].bool(), float("-inf"))
    return F.softmax(scores, dim=-1) @ v


class MHA(nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        self.h = n_heads
        self.d_head = d_model // n_heads
        self.q = nn.Linear(d_model, d_model)
        self.kv = nn.Linear(d_model, 2 * d_model)
        self.o = nn.Linear(d_model, d_model)

    def split(self, x):
        b, t, _ = x.shape
        return x.view(b, t, self.h, self.d_head).transpose(1, 2)

    def forward(self, x, memory=None, key_padding=None, causal=None):
        src = x if memory is None else memory
        k, v = self.kv(src).chunk(2, dim=-1)
        if memory is None:
            q = self.split(self.q(x)) / math.sqrt(self.d_head)
            out = attend(q, self.split(k), self.split(v), key_padding, causal)
        else:
            out = attend(self.split(self.q(x)), self.split(k), self.split(v), key_padding)
        b, _, t, _ = out.shape
        return self.o(out.transpose(1, 2).reshape(b, t, -1))


class DecoderLayer(nn.Module):
    def __init__(self, d_model, n_heads, d_ff):
        super().__init__()
        self.self_attn = MHA(d_model, n_heads)
        self.cross_attn = MHA(d_model, n_heads)
        self.ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model))
        self.n1, self.n2, self.n3 = (
            nn.LayerNorm(d_model),
            nn.LayerNorm(d_model),
            nn.LayerNorm(d_model),
        )

    def forward(self, y, memory, src_pad, tgt_causal):
        y = y + self.self_attn(self.n1(y), causal=tgt_causal)
        y = y + self.cross_attn(self.n2(y), memory=memory, key_padding=src_pad)
        return y + self.ff(self.n3(y))
