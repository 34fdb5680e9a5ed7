import torch
import torch.nn as nn
import torch.nn.functional as F


def masked_attention(q, k, v, keep, scale):
    attn = (q @ k.transpose(-2, -1)) * scale
    attn = attn.masked_fill(~keep[:, None, None, :], float("-inf"))
    return attn.softmax(dim=-1) @ v


class Attention(nn.Module):
    def __init__(self, dim, heads=8):
        super().__init__()
        self.h = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, keep=None, has_cls=True):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.h, c // self.h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        if keep is None:
            out = F.scaled_dot_product_attention(q, k, v)
        elif has_cls:
            keep = torch.cat([torch.ones(b, 1, dtype=torch.bool, device=x.device), keep], dim=1)
            out = masked_attention(q, k, v, keep, self.scale)
        else:
            out = masked_attention(q, k, v, keep, self.scale)
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class Block(nn.Module):
    def __init__(self, dim, heads, has_cls):
        super().__init__()
        self.n1, self.n2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.mlp = nn.Sequential(nn.Linear(dim, dim * 4), nn.GELU(), nn.Linear(dim * 4, dim))
        self.has_cls = has_cls

    def forward(self, x, keep=None):
        x = x + self.attn(self.n1(x), keep, self.has_cls)
        return x + self.mlp(self.n2(x))


class WeatherViT(nn.Module):
    """Patch ViT over ERA5 fields; land/sea or missing-data patches are masked out."""

    def __init__(self, in_channels, out_channels, patch=8, dim=512, depth=8, heads=8, use_cls=True):
        super().__init__()
        self.embed = nn.Conv2d(in_channels, dim, patch, patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim)) if use_cls else None
        self.blocks = nn.ModuleList(Block(dim, heads, use_cls) for _ in range(depth))
        self.head = nn.Linear(dim, out_channels * patch * patch)
        self.patch = patch

    def forward(self, x, patch_keep=None):
        h = self.embed(x).flatten(2).transpose(1, 2)
        if self.cls is not None:
            h = torch.cat([self.cls.expand(h.shape[0], -1, -1), h], 1)
        for blk in self.blocks:
            h = blk(h, patch_keep)
        if self.cls is not None:
            h = h[:, 1:]
        return self.head(h)
