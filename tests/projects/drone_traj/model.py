import math

import torch
import torch.nn as nn
from einops import rearrange
from social import neighbour_logits, radius_mask, split_heads


class TemporalBlock(nn.Module):
    def __init__(self, d, heads, max_len=64):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.norm = nn.LayerNorm(d)
        self.register_buffer("mask", torch.tril(torch.ones(max_len, max_len)).bool())

    def forward(self, x):
        t = x.shape[1]
        q, k, v = (split_heads(z, self.heads) for z in self.qkv(self.norm(x)).chunk(3, -1))
        att = torch.einsum("b h i d, b h j d -> b h i j", q, k) / math.sqrt(q.shape[-1])
        att = att.masked_fill(~self.mask[:t, :t], float("-inf"))
        y = rearrange(att.softmax(-1) @ v, "b h n d -> b n (h d)")
        return x + self.out(y)


class SocialBlock(nn.Module):
    def __init__(self, d, heads, radius=30.0):
        super().__init__()
        self.heads = heads
        self.radius = radius
        self.q = nn.Linear(d, d)
        self.k = nn.Linear(d, d)
        self.v = nn.Linear(d, d)
        self.norm = nn.LayerNorm(d)

    def forward(self, h, pos):
        z = self.norm(h)
        q, k, v = (split_heads(f(z), self.heads) for f in (self.q, self.k, self.v))
        valid = radius_mask(pos, self.radius)
        attn = neighbour_logits(q, k, valid).softmax(dim=-1)
        return h + rearrange(attn @ v, "b h n d -> b n (h d)")


class TrajFormer(nn.Module):
    def __init__(self, mcfg, pred_len):
        super().__init__()
        self.embed = nn.Linear(mcfg.input_dim, mcfg.d_model)
        self.temporal = nn.ModuleList(
            TemporalBlock(mcfg.d_model, mcfg.heads) for _ in range(mcfg.layers)
        )
        self.social = SocialBlock(mcfg.d_model, mcfg.heads)
        self.head = nn.Linear(mcfg.d_model, pred_len * 3)
        self.pred_len = pred_len

    def forward(self, obs):
        b, n, t, f = obs.shape
        h = rearrange(self.embed(obs), "b n t d -> (b n) t d")
        for blk in self.temporal:
            h = blk(h)
        last = rearrange(h[:, -1], "(b n) d -> b n d", b=b)
        last = self.social(last, obs[:, :, -1, :3])
        return self.head(last).view(b, n, self.pred_len, 3)
