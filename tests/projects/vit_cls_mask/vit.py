import torch
import torch.nn as nn
import torch.nn.functional as F


class MaskedBlock(nn.Module):
    """Keys are the CLS token plus the patches; the CLS key is never masked."""

    def __init__(self, dim, heads=4):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)

    def forward(self, x, patch_mask):
        b, n, c = x.shape
        keep = torch.cat([torch.ones(b, 1, dtype=torch.bool, device=x.device), patch_mask], dim=1)
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = attn.masked_fill(~keep[:, None, None, :], float("-inf"))
        attn = attn.softmax(dim=-1)
        return (attn @ v).transpose(1, 2).reshape(b, n, c)


class PaddedBlock(nn.Module):
    def __init__(self, dim, heads=4):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)

    def forward(self, x, pad):
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = attn.masked_fill(pad[:, None, None, :], float("-inf"))
        attn = attn.softmax(dim=-1)
        return (attn @ v).transpose(1, 2).reshape(b, n, c)


class PadTrueBlock(PaddedBlock):
    def forward(self, x, pad):
        b, n, c = x.shape
        keep = F.pad(~pad, (1, 0), value=True)
        x = torch.cat([x.mean(1, keepdim=True), x], dim=1)
        q, k, v = self.qkv(x).reshape(b, n + 1, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = attn.masked_fill(~keep[:, None, None, :], float("-inf"))
        return (attn.softmax(-1) @ v).transpose(1, 2).reshape(b, n + 1, c)


class CausalPadBlock(PaddedBlock):
    def forward(self, x, pad):
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        causal = torch.triu(torch.ones(n, n, dtype=torch.bool, device=x.device), diagonal=1)
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = attn.masked_fill(causal, float("-inf"))
        return (attn.softmax(-1) @ v).transpose(1, 2).reshape(b, n, c)
