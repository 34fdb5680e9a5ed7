"""PyTorch port of our Flax ParT-lite jet tagger; module and parameter names follow the Flax code."""

import torch
import torch.nn.functional as F
from torch import nn


def make_attention_mask(query_input, key_input):
    return query_input[:, None, :, None] & key_input[:, None, None, :]


def dot_product_attention(query, key, value, mask=None, bias=None):
    attn_weights = torch.einsum("bqhd,bkhd->bhqk", query, key)
    if bias is not None:
        attn_weights = attn_weights + bias
    if mask is not None:
        attn_weights = torch.where(mask, attn_weights, float("-inf"))
    attn_weights = F.softmax(attn_weights, dim=-1)
    return torch.einsum("bhqk,bkhd->bqhd", attn_weights, value)


class MultiHeadDotProductAttention(nn.Module):
    def __init__(self, features, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.query = nn.Linear(features, features)
        self.key = nn.Linear(features, features)
        self.value = nn.Linear(features, features)
        self.out = nn.Linear(features, features)

    def forward(self, inputs_q, inputs_kv, mask=None, bias=None):
        b, n, f = inputs_q.shape
        split = lambda t: t.view(b, -1, self.num_heads, f // self.num_heads)
        query = split(self.query(inputs_q))
        key = split(self.key(inputs_kv))
        value = split(self.value(inputs_kv))
        x = dot_product_attention(query, key, value, mask=mask, bias=bias)
        return self.out(x.reshape(b, n, f))


class ClassAttention(nn.Module):
    def __init__(self, features, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (features // num_heads) ** -0.5
        self.q = nn.Linear(features, features)
        self.kv = nn.Linear(features, 2 * features)

    def forward(self, cls_token, x, particle_mask):
        b, n, f = x.shape
        h = self.num_heads
        tokens = torch.cat([cls_token, x], dim=1)
        q = self.q(cls_token).view(b, 1, h, f // h).transpose(1, 2) * self.scale
        k, v = self.kv(tokens).view(b, n + 1, 2, h, f // h).permute(2, 0, 3, 1, 4)
        keep = torch.cat([torch.ones(b, 1, dtype=torch.bool, device=x.device), particle_mask], 1)
        logits = (q @ k.transpose(-2, -1)).masked_fill(~keep[:, None, None, :], float("-inf"))
        return (logits.softmax(-1) @ v).transpose(1, 2).reshape(b, 1, f)


class Block(nn.Module):
    def __init__(self, features, num_heads, mlp_ratio=4):
        super().__init__()
        self.LayerNorm_0 = nn.LayerNorm(features)
        self.MultiHeadDotProductAttention_0 = MultiHeadDotProductAttention(features, num_heads)
        self.LayerNorm_1 = nn.LayerNorm(features)
        self.Dense_0 = nn.Linear(features, mlp_ratio * features)
        self.Dense_1 = nn.Linear(mlp_ratio * features, features)

    def forward(self, x, particle_mask, pair_bias):
        y = self.LayerNorm_0(x)
        mask = make_attention_mask(particle_mask, particle_mask)
        x = x + self.MultiHeadDotProductAttention_0(y, y, mask=mask, bias=pair_bias)
        return x + self.Dense_1(F.gelu(self.Dense_0(self.LayerNorm_1(x))))


class ParticleTransformer(nn.Module):
    def __init__(self, num_features, features=128, num_heads=8, depth=6, num_classes=10):
        super().__init__()
        self.Embed_0 = nn.Linear(num_features, features)
        self.pair_embed = nn.Linear(4, num_heads)
        self.blocks = nn.ModuleList(Block(features, num_heads) for _ in range(depth))
        self.cls = nn.Parameter(torch.zeros(1, 1, features))
        self.ClassAttention_0 = ClassAttention(features, num_heads)
        self.Dense_head = nn.Linear(features, num_classes)

    def forward(self, pf_features, pair_features, particle_mask):
        x = self.Embed_0(pf_features)
        pair_bias = self.pair_embed(pair_features).permute(0, 3, 1, 2)
        for blk in self.blocks:
            x = blk(x, particle_mask, pair_bias)
        cls = self.cls.expand(x.shape[0], -1, -1)
        cls = self.ClassAttention_0(cls, x, particle_mask)
        return self.Dense_head(cls[:, 0])
