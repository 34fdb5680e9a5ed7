"""Ported from the JAX reference (flax.linen.attention) used by the paper's ray transformer."""

import math

import torch
import torch.nn as nn


def dot_product_attention_weights(query, key, bias=None):
    # query: [..., q, h, d], key: [..., k, h, d]
    attn_weights = torch.einsum("...qhd,...khd->...hqk", query, key)
    if bias is not None:
        attn_weights = attn_weights + bias
    return torch.softmax(attn_weights, dim=-1)


def dot_product_attention(query, key, value, bias=None):
    weights = dot_product_attention_weights(query, key, bias)
    return torch.einsum("...hqk,...khd->...qhd", weights, value)


class SampleMixer(nn.Module):
    """Self-attention across the samples along one ray (as in IBRNet's ray transformer)."""

    def __init__(self, features, num_heads=4):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(features, 3 * features)
        self.out = nn.Linear(features, features)
        self.norm = nn.LayerNorm(features)

    def forward(self, x, valid):
        *lead, s, f = x.shape
        h = self.num_heads
        q, k, v = self.qkv(self.norm(x)).reshape(*lead, s, 3, h, f // h).unbind(-3)
        bias = torch.where(valid[..., None, None, :], 0.0, -1e10)
        y = dot_product_attention(q, k, v, bias)
        return x + self.out(y.reshape(*lead, s, f))


class ViewAggregator(nn.Module):
    """Cross-attention from each sample to the features of the source views."""

    def __init__(self, features, view_features, num_heads=4):
        super().__init__()
        self.num_heads = num_heads
        self.q = nn.Linear(features, features)
        self.kv = nn.Linear(view_features, 2 * features)

    def forward(self, x, views):
        *lead, f = x.shape
        h = self.num_heads
        depth = f // h
        query = self.q(x).reshape(*lead, 1, h, depth) / math.sqrt(depth)
        key, value = self.kv(views).reshape(*views.shape[:-1], 2, h, depth).unbind(-3)
        w = torch.einsum("...qhd,...khd->...hqk", query, key).softmax(-1)
        return torch.einsum("...hqk,...khd->...qhd", w, value).reshape(*lead, f)
