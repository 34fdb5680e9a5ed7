import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class LatentPool(nn.Module):
    """Pool a variable number of patch tokens into a few learned latent slots."""

    def __init__(self, dim, n_latents=8):
        super().__init__()
        self.latents = nn.Parameter(torch.randn(n_latents, dim) * 0.02)
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(dim, dim, bias=False)
        self.to_v = nn.Linear(dim, dim, bias=False)

    def forward(self, x, key_mask=None):
        b = x.shape[0]
        q = self.to_q(self.latents).expand(b, -1, -1)
        k, v = self.to_k(x), self.to_v(x)
        sim = torch.einsum("b i d, b j d -> b i j", q, k)
        if key_mask is not None:
            sim = sim.masked_fill(~key_mask[:, None, :], -torch.finfo(sim.dtype).max)
        attn = sim.softmax(dim=-1)
        return torch.einsum("b i j, b j d -> b i d", attn, v).mean(1)


class CosineSelfAttention(nn.Module):
    def __init__(self, dim, heads=8):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.logit_scale = nn.Parameter(torch.log(10 * torch.ones(heads, 1, 1)))

    def forward(self, x, pad_mask):
        b, n, c = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
        attn = (q @ k.transpose(-2, -1)) * self.logit_scale.clamp(max=math.log(100)).exp()
        # x[:, 0] is the [CLS] token, prepended by the tokenizer; it is always a key
        keep = torch.cat([pad_mask.new_ones(b, 1), pad_mask[:, 1:]], dim=1)
        attn = attn.masked_fill(~keep[:, None, None, :], float("-inf"))
        out = (attn.softmax(-1) @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj(out)


class VisionTower(nn.Module):
    def __init__(self, dim=512, patch=16, depth=6, heads=8):
        super().__init__()
        self.heads = heads
        self.patchify = nn.Conv2d(3, dim, patch, stride=patch)
        self.qkv = nn.ModuleList(nn.Linear(dim, 3 * dim) for _ in range(depth))
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(depth))
        self.pool = LatentPool(dim)

    def forward(self, images):
        x = self.patchify(images).flatten(2).transpose(1, 2)
        b, n, c = x.shape
        for qkv, norm in zip(self.qkv, self.norms):
            q, k, v = qkv(norm(x)).view(b, n, 3, self.heads, -1).unbind(2)
            out = F.scaled_dot_product_attention(
                q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
            )
            x = x + out.transpose(1, 2).reshape(b, n, c)
        return self.pool(x)


class TextTower(nn.Module):
    def __init__(self, vocab=49408, dim=512, depth=4):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.layers = nn.ModuleList(CosineSelfAttention(dim) for _ in range(depth))

    def forward(self, ids, pad_mask):
        x = self.emb(ids)
        for layer in self.layers:
            x = x + layer(x, pad_mask)
        return x[:, 0]


class DualEncoder(nn.Module):
    def __init__(self, dim=512, embed=256):
        super().__init__()
        self.vision = VisionTower(dim)
        self.text = TextTower(dim=dim)
        self.img_proj = nn.Linear(dim, embed, bias=False)
        self.txt_proj = nn.Linear(dim, embed, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def forward(self, images, ids, pad_mask):
        img = F.normalize(self.img_proj(self.vision(images)), dim=-1)
        txt = F.normalize(self.txt_proj(self.text(ids, pad_mask)), dim=-1)
        logits_per_image = self.logit_scale.exp() * img @ txt.t()
        return {"logits_per_image": logits_per_image, "img": img, "txt": txt}
