import torch
import torch.nn.functional as F
from torch import nn


def attend(q, k, v, keep):
    s = (q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5
    s = s.masked_fill(~keep[:, None, None, :], float("-inf"))
    return s.softmax(dim=-1) @ v


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, keep):
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        return self.proj(attend(q, k, v, keep).transpose(1, 2).reshape(b, n, c))


class TissuePool(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.q = nn.Parameter(torch.zeros(1, 1, 1, dim))
        self.k = nn.Linear(dim, dim)

    def forward(self, patches, tissue):
        k = self.k(patches)[:, None]
        return attend(self.q.expand(k.shape[0], -1, -1, -1), k, k, tissue).squeeze(1).squeeze(1)


class HistoViT(nn.Module):
    def __init__(self, in_channels, n_classes, dim=384, depth=6, heads=6, patch=16, img=224):
        super().__init__()
        self.embed = nn.Conv2d(in_channels, dim, patch, stride=patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.zeros(1, (img // patch) ** 2 + 1, dim))
        self.blocks = nn.ModuleList(Attention(dim, heads) for _ in range(depth))
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(depth))
        self.pool = TissuePool(dim)
        self.head = nn.Linear(2 * dim, n_classes)

    def forward(self, pixel_values, tissue):
        x = self.embed(pixel_values).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        keep = F.pad(tissue, (1, 0), value=True)
        for blk, ln in zip(self.blocks, self.norms):
            x = x + blk(ln(x), keep)
        return self.head(torch.cat([x[:, 0], self.pool(x[:, 1:], tissue)], dim=-1))
