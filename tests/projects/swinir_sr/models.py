import torch
import torch.nn as nn
import torch.nn.functional as F


def window_partition(x, ws):
    b, h, w, c = x.shape
    x = x.view(b, h // ws, ws, w // ws, ws, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, ws * ws, c)


def window_logits(q, k):
    return q @ k.transpose(-2, -1)


class WindowAttention(nn.Module):
    def __init__(self, dim, ws, heads):
        super().__init__()
        self.heads = heads
        self.ws = ws
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.rel_table = nn.Parameter(torch.zeros((2 * ws - 1) ** 2, heads))
        coords = torch.stack(
            torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing="ij")
        ).flatten(1)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + ws - 1
        self.register_buffer("rel_index", rel[..., 0] * (2 * ws - 1) + rel[..., 1])

    def forward(self, x, mask=None):
        bw, n, c = x.shape
        qkv = self.qkv(x).reshape(bw, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = window_logits(q, k)
        bias = self.rel_table[self.rel_index.view(-1)].view(n, n, -1).permute(2, 0, 1)
        attn = attn + bias.unsqueeze(0)
        if mask is not None:
            nw = mask.shape[0]
            attn = attn.view(bw // nw, nw, self.heads, n, n) + mask[None, :, None]
            attn = attn.view(-1, self.heads, n, n)
        attn = attn.softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(bw, n, c))


class ChannelAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)

    def forward(self, x):
        b, n, c = x.shape
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        q = q * self.scale
        attn = torch.softmax(q.transpose(-2, -1) @ k, dim=-1)
        return (v @ attn).reshape(b, n, c)


def shift_mask(h, w, ws, shift):
    img = torch.zeros(1, h, w, 1)
    cnt = 0
    for hs in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
        for wsl in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
            img[:, hs, wsl, :] = cnt
            cnt += 1
    win = window_partition(img, ws).squeeze(-1)
    m = win[:, None, :] - win[:, :, None]
    return m.masked_fill(m != 0, -100.0).masked_fill(m == 0, 0.0)


class SwinIRLite(nn.Module):
    def __init__(self, in_channels, dim=60, ws=8, heads=6, depth=4, upscale=2):
        super().__init__()
        self.ws = ws
        self.head = nn.Conv2d(in_channels, dim, 3, padding=1)
        self.blocks = nn.ModuleList(WindowAttention(dim, ws, heads) for _ in range(depth))
        self.chan = ChannelAttention(dim, heads)
        self.norm = nn.LayerNorm(dim)
        self.tail = nn.Sequential(
            nn.Conv2d(dim, in_channels * upscale**2, 3, padding=1), nn.PixelShuffle(upscale)
        )

    def forward(self, x):
        feat = self.head(x)
        b, c, h, w = feat.shape
        t = feat.permute(0, 2, 3, 1)
        mask = shift_mask(h, w, self.ws, self.ws // 2).to(x.device)
        for i, blk in enumerate(self.blocks):
            shifted = torch.roll(t, (-(self.ws // 2), -(self.ws // 2)), (1, 2)) if i % 2 else t
            win = window_partition(self.norm(shifted), self.ws)
            out = blk(win, mask if i % 2 else None)
            out = (
                out.view(b, h // self.ws, w // self.ws, self.ws, self.ws, c)
                .permute(0, 1, 3, 2, 4, 5)
                .reshape(b, h, w, c)
            )
            if i % 2:
                out = torch.roll(out, (self.ws // 2, self.ws // 2), (1, 2))
            t = t + out
        t = t + self.chan(t.reshape(b, h * w, c)).view(b, h, w, c)
        return self.tail(t.permute(0, 3, 1, 2) + feat) + F.interpolate(
            x, scale_factor=2, mode="bilinear"
        )
