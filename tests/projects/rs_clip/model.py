import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def qk_logits(q, k):
    return torch.einsum("bhid,bhjd->bhij", q, k)


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x):
        b, n, c = x.shape
        qkv = (
            self.qkv(self.norm1(x))
            .reshape(b, n, 3, self.heads, c // self.heads)
            .permute(2, 0, 3, 1, 4)
        )
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = attn.softmax(dim=-1)
        x = x + self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))
        return x + self.mlp(self.norm2(x))


class AttnPool(nn.Module):
    def __init__(self, dim, heads=8):
        super().__init__()
        self.heads = heads
        self.query = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.kv = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, d = x.shape
        h = self.heads
        k, v = self.kv(x).chunk(2, dim=-1)
        q = self.query.expand(b, -1, -1)
        q, k, v = (t.reshape(b, -1, h, d // h).transpose(1, 2) for t in (q, k, v))
        attn = qk_logits(q, k).softmax(dim=-1)
        out = (attn @ v).transpose(1, 2).reshape(b, 1, d)
        return self.out(out).squeeze(1)


class PatchEncoder(nn.Module):
    def __init__(self, in_channels, dim, patch=16, depth=4, heads=8):
        super().__init__()
        self.embed = nn.Conv2d(in_channels, dim, patch, stride=patch)
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(depth))
        self.pool = AttnPool(dim, heads)

    def forward(self, img):
        x = self.embed(img).flatten(2).transpose(1, 2)
        for blk in self.blocks:
            x = blk(x)
        return self.pool(x)


class TextEncoder(nn.Module):
    def __init__(self, vocab, dim, heads=8, depth=4, max_len=77):
        super().__init__()
        self.tok = nn.Embedding(vocab, dim)
        self.pos = nn.Parameter(torch.zeros(1, max_len, dim))
        layer = nn.TransformerEncoderLayer(dim, heads, 4 * dim, batch_first=True, norm_first=True)
        self.enc = nn.TransformerEncoder(layer, depth)

    def forward(self, ids, pad):
        x = self.tok(ids) + self.pos[:, : ids.shape[1]]
        x = self.enc(x, src_key_padding_mask=pad)
        keep = (~pad).unsqueeze(-1).float()
        return (x * keep).sum(1) / keep.sum(1).clamp(min=1.0)


class GeoCLIP(nn.Module):
    def __init__(self, in_channels, vocab, dim, embed_dim, meta_dim=0):
        super().__init__()
        self.image = PatchEncoder(in_channels, dim)
        self.text = TextEncoder(vocab, dim)
        self.meta = nn.Linear(meta_dim, dim) if meta_dim else None
        self.img_proj = nn.Linear(dim, embed_dim)
        self.txt_proj = nn.Linear(dim, embed_dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def forward(self, img, meta, ids, pad):
        h = self.image(img)
        if self.meta is not None:
            h = h + self.meta(meta)
        zi = F.normalize(self.img_proj(h), dim=-1)
        zt = F.normalize(self.txt_proj(self.text(ids, pad)), dim=-1)
        return self.logit_scale.exp() * zi @ zt.t()
