import torch
import torch.nn as nn

from .utils import *


class EncoderBlock(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, c // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        attn = pairwise_logits(q, k).softmax(dim=-1)
        h = (attn @ v).transpose(1, 2).reshape(b, n, c)
        x = x + self.proj(h)
        return x + self.mlp(self.norm2(x))


class DecoderBlock(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(self.norm(x)).reshape(b, n, 3, self.heads, c // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        attn = (pairwise_logits(q, k) * self.scale).softmax(dim=-1)
        return x + self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class MAEViT(nn.Module):
    def __init__(
        self,
        in_chans=3,
        patch=16,
        img_size=224,
        dim=768,
        depth=12,
        heads=12,
        dec_dim=512,
        dec_depth=4,
        mask_ratio=0.75,
    ):
        super().__init__()
        self.patch = patch
        self.mask_ratio = mask_ratio
        n = (img_size // patch) ** 2
        self.embed = nn.Conv2d(in_chans, dim, patch, patch)
        self.pos = nn.Parameter(torch.zeros(1, n, dim))
        self.blocks = nn.ModuleList(EncoderBlock(dim, heads) for _ in range(depth))
        self.to_dec = nn.Linear(dim, dec_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dec_dim))
        self.dec_pos = nn.Parameter(torch.zeros(1, n, dec_dim))
        self.dec_blocks = nn.ModuleList(DecoderBlock(dec_dim, 16) for _ in range(dec_depth))
        self.head = nn.Linear(dec_dim, patch * patch * in_chans)

    def random_masking(self, x):
        b, n, d = x.shape
        keep = int(n * (1 - self.mask_ratio))
        noise = torch.rand(b, n, device=x.device)
        ids_shuffle = noise.argsort(dim=1)
        ids_restore = ids_shuffle.argsort(dim=1)
        ids_keep = ids_shuffle[:, :keep]
        x = torch.gather(x, 1, ids_keep[..., None].expand(-1, -1, d))
        mask = torch.ones(b, n, device=x.device)
        mask[:, :keep] = 0
        return x, torch.gather(mask, 1, ids_restore), ids_restore

    def forward(self, imgs):
        x = self.embed(imgs).flatten(2).transpose(1, 2) + self.pos
        x, mask, ids_restore = self.random_masking(x)
        for blk in self.blocks:
            x = blk(x)
        x = self.to_dec(x)
        b, keep, d = x.shape
        fill = self.mask_token.expand(b, ids_restore.shape[1] - keep, -1)
        x = torch.cat([x, fill], dim=1)
        x = torch.gather(x, 1, ids_restore[..., None].expand(-1, -1, d)) + self.dec_pos
        for blk in self.dec_blocks:
            x = blk(x)
        return self.head(x), mask
