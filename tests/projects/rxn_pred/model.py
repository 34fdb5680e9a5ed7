import math

import torch
import torch.nn as nn
import utils as U


def dot_product_attention(query, key, value, bias=None, mask=None):
    depth = query.shape[-1]
    query = query / math.sqrt(depth)
    attn_weights = torch.einsum("...qhd,...khd->...hqk", query, key)
    if bias is not None:
        attn_weights = attn_weights + bias
    if mask is not None:
        big_neg = torch.finfo(attn_weights.dtype).min
        attn_weights = torch.where(mask, attn_weights, big_neg)
    attn_weights = torch.softmax(attn_weights, dim=-1)
    return torch.einsum("...hqk,...khd->...qhd", attn_weights, value)


def cross_attention(q, k, v, src_pad):
    logits = torch.einsum("bqhd,bkhd->bhqk", q, k)
    weights = U.masked_logits(logits, src_pad).softmax(dim=-1)
    return torch.einsum("bhqk,bkhd->bqhd", weights, v)


class MultiHeadDotProductAttention(nn.Module):
    def __init__(self, d_model, num_heads):
        super().__init__()
        self.h, self.d = num_heads, d_model // num_heads
        self.scale = self.d**-0.5
        self.query, self.key, self.value = (nn.Linear(d_model, d_model) for _ in range(3))
        self.out = nn.Linear(d_model, d_model)

    def split(self, x):
        return x.view(x.shape[0], x.shape[1], self.h, self.d)

    def forward(self, inputs_q, inputs_kv, mask=None, src_pad=None):
        q, k, v = (
            self.split(self.query(inputs_q)),
            self.split(self.key(inputs_kv)),
            self.split(self.value(inputs_kv)),
        )
        if src_pad is not None:
            y = cross_attention(q * self.scale, k, v, src_pad)
        else:
            y = dot_product_attention(q, k, v, mask=mask)
        return self.out(y.flatten(2))


class DecoderLayer(nn.Module):
    def __init__(self, d_model, num_heads):
        super().__init__()
        self.self_attn = MultiHeadDotProductAttention(d_model, num_heads)
        self.cross_attn = MultiHeadDotProductAttention(d_model, num_heads)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model)
        )
        self.ln = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(3))

    def forward(self, y, memory, causal, src_pad):
        y = y + self.self_attn(self.ln[0](y), self.ln[0](y), mask=causal)
        y = y + self.cross_attn(self.ln[1](y), memory, src_pad=src_pad)
        return y + self.mlp(self.ln[2](y))


class RxnTransformer(nn.Module):
    def __init__(self, vocab_size, n_condition_features, d_model=512, num_heads=8, n_layers=6):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model, padding_idx=U.PAD)
        self.cond = nn.Linear(n_condition_features, d_model)
        self.enc = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(d_model, num_heads, 4 * d_model, batch_first=True), n_layers
        )
        self.dec = nn.ModuleList(DecoderLayer(d_model, num_heads) for _ in range(n_layers))
        self.register_buffer("pe", U.sinusoid(512, d_model), persistent=False)
        self.lm_head = nn.Linear(d_model, vocab_size)

    def forward(self, src, tgt_in, cond):
        src_pad = src == U.PAD
        memory = self.enc(self.embed(src) + self.pe[: src.shape[1]], src_key_padding_mask=src_pad)
        memory = memory + self.cond(cond).unsqueeze(1)
        t = tgt_in.shape[1]
        causal = torch.tril(torch.ones(t, t, dtype=torch.bool, device=src.device))
        y = self.embed(tgt_in) + self.pe[:t]
        for layer in self.dec:
            y = layer(y, memory, causal, src_pad)
        return self.lm_head(y)
