import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def mask_padding(scores, keep):
    return scores.masked_fill(~keep[:, None, None, :], float("-inf"))


class TokenRegionAttention(nn.Module):
    """Each candidate region attends over the OCR tokens of its page."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.o = nn.Linear(dim, dim)

    def forward(self, regions, tokens, token_keep):
        b, r, d = regions.shape
        h = self.heads
        q = self.q(regions).view(b, r, h, d // h).transpose(1, 2)
        k, v = self.kv(tokens).view(b, tokens.shape[1], 2, h, d // h).permute(2, 0, 3, 1, 4)
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(d // h)
        attn = F.softmax(mask_padding(scores, token_keep), dim=-1)
        return self.o((attn @ v).transpose(1, 2).reshape(b, r, d))


class PageEncoder(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.qkv = nn.Linear(dim, 3 * dim)
        self.norm = nn.LayerNorm(dim)

    def forward(self, tokens, token_keep):
        b, n, d = tokens.shape
        h = self.heads
        x = torch.cat([self.cls.expand(b, -1, -1), tokens], dim=1)
        keep = F.pad(token_keep, (1, 0), value=True)
        q, k, v = self.qkv(self.norm(x)).view(b, n + 1, 3, h, d // h).permute(2, 0, 3, 1, 4)
        s = (q * (d // h) ** -0.5) @ k.transpose(-2, -1)
        s = s.masked_fill(~keep[:, None, None, :], float("-inf"))
        out = s.softmax(dim=-1) @ v
        return x + out.transpose(1, 2).reshape(b, n + 1, d)


class ReadingOrderDecoder(nn.Module):
    def __init__(self, dim, heads, max_regions=256):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.register_buffer("order_mask", torch.tril(torch.ones(max_regions, max_regions)).bool())

    def forward(self, x):
        b, r, d = x.shape
        h = self.heads
        q, k, v = self.qkv(x).view(b, r, 3, h, d // h).permute(2, 0, 3, 1, 4)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d // h))
        att = att.masked_fill(~self.order_mask[:r, :r], float("-inf"))
        return (F.softmax(att, dim=-1) @ v).transpose(1, 2).reshape(b, r, d)


class LayoutDetector(nn.Module):
    def __init__(self, token_dim, dim, heads, num_classes):
        super().__init__()
        self.token_in = nn.Linear(token_dim, dim)
        self.page = PageEncoder(dim, heads)
        self.cross = TokenRegionAttention(dim, heads)
        self.order = ReadingOrderDecoder(dim, heads)
        self.cls_head = nn.Linear(dim, num_classes)
        self.box_head = nn.Linear(dim, 4)

    def forward(self, region_feats, token_feats, token_keep):
        tok = self.page(self.token_in(token_feats), token_keep)[:, 1:]
        reg = region_feats + self.cross(region_feats, tok, token_keep)
        reg = reg + self.order(reg)
        return self.cls_head(reg), self.box_head(reg).sigmoid()
