import math

import torch
import torch.nn as nn

NEG_INF = float("-inf")


class FullAttention(nn.Module):
    def __init__(self, d_model, n_heads, temperature=None, dropout=0.05):
        super().__init__()
        self.temperature = temperature or math.sqrt(d_model // n_heads)
        self.dropout = nn.Dropout(dropout)

    def forward(self, q, k, v, key_missing=None, causal=False):
        # q [B, L, H, E], k/v [B, S, H, E]; key_missing [B, S] True where the step is missing
        scores = torch.einsum("blhe,bshe->bhls", q, k) / self.temperature
        if causal:
            L, S = scores.shape[-2:]
            future = torch.triu(
                torch.ones(L, S, dtype=torch.bool, device=scores.device), diagonal=1
            )
            scores = scores.masked_fill(future, NEG_INF)
        if key_missing is not None:
            scores = scores.masked_fill(key_missing[:, None, None, :], NEG_INF)
        A = self.dropout(torch.softmax(scores, dim=-1))
        return torch.einsum("bhls,bshd->blhd", A, v).contiguous()


class AttentionLayer(nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        self.n_heads = n_heads
        self.inner = FullAttention(d_model, n_heads)
        self.q = nn.Linear(d_model, d_model)
        self.k = nn.Linear(d_model, d_model)
        self.v = nn.Linear(d_model, d_model)
        self.o = nn.Linear(d_model, d_model)

    def forward(self, x, mem, key_missing=None, causal=False):
        B, L, _ = x.shape
        S = mem.shape[1]
        H = self.n_heads
        out = self.inner(
            self.q(x).view(B, L, H, -1),
            self.k(mem).view(B, S, H, -1),
            self.v(mem).view(B, S, H, -1),
            key_missing,
            causal,
        )
        return self.o(out.view(B, L, -1))


class Forecaster(nn.Module):
    """Encoder-decoder forecaster: lookback window in, horizon out."""

    def __init__(self, n_series_feats, d_model=128, n_heads=4, horizon=24):
        super().__init__()
        self.horizon = horizon
        self.inp = nn.Linear(n_series_feats, d_model)
        self.time = nn.Linear(4, d_model)
        self.enc_attn = AttentionLayer(d_model, n_heads)
        self.dec_self = AttentionLayer(d_model, n_heads)
        self.dec_cross = AttentionLayer(d_model, n_heads)
        self.dec_query = nn.Parameter(torch.randn(1, horizon, d_model) * 0.02)
        self.norm = nn.LayerNorm(d_model)
        self.out = nn.Linear(d_model, 1)

    def forward(self, x_enc, x_mark, missing=None):
        h = self.inp(x_enc) + self.time(x_mark)
        h = self.norm(h + self.enc_attn(h, h, key_missing=missing))
        d = self.dec_query.expand(x_enc.shape[0], -1, -1)
        d = d + self.dec_self(d, d, causal=True)
        d = d + self.dec_cross(d, h, key_missing=missing)
        return self.out(self.norm(d)).squeeze(-1)
