import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange


def channel_affinity(q, k):
    return torch.einsum("b h c d, b h e d -> b h c e", q, k)


class ChannelAttention(nn.Module):
    """Attention across electrodes, one token per electrode."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.to_qkv = nn.Linear(dim, dim * 3, bias=False)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        q, k, v = self.to_qkv(x).chunk(3, dim=-1)
        q, k, v = (rearrange(t, "b c (h d) -> b h c d", h=self.heads) for t in (q, k, v))
        attn = channel_affinity(q, k).softmax(dim=-1)
        out = rearrange(attn @ v, "b h c d -> b c (h d)")
        return self.proj(out)


class TemporalAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.to_qkv = nn.Linear(dim, dim * 3, bias=False)

    def forward(self, x):
        q, k, v = self.to_qkv(x).chunk(3, dim=-1)
        q, k, v = (rearrange(t, "b n (h d) -> b h n d", h=self.heads) for t in (q, k, v))
        q = q * self.scale
        attn = torch.einsum("b h i d, b h j d -> b h i j", q, k).softmax(dim=-1)
        return rearrange(attn @ v, "b h n d -> b n (h d)")


class ElectrodePool(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.q = nn.Parameter(torch.randn(dim))
        self.k = nn.Linear(dim, dim)

    def forward(self, x, bad_channel):
        k = F.normalize(self.k(x), dim=-1)
        s = torch.einsum("d,bcd->bc", F.normalize(self.q, dim=0), k) * 10.0
        s = s.masked_fill(bad_channel, float("-inf"))
        w = torch.nan_to_num(s.softmax(dim=-1), nan=0.0)
        return torch.einsum("bc,bcd->bd", w, x)


class EEGTransformer(nn.Module):
    def __init__(self, in_channels, n_samples, d_model, heads, depth, n_classes):
        super().__init__()
        self.in_channels = in_channels
        self.patch = nn.Conv1d(1, d_model, kernel_size=25, stride=25)
        self.chan_emb = nn.Parameter(torch.zeros(in_channels, d_model))
        self.temporal = nn.ModuleList(TemporalAttention(d_model, heads) for _ in range(depth))
        self.channel = ChannelAttention(d_model, heads)
        self.pool = ElectrodePool(d_model)
        self.head = nn.Linear(d_model, n_classes)

    def forward(self, x, bad_channel):
        b, c, t = x.shape
        h = self.patch(rearrange(x, "b c t -> (b c) 1 t"))
        h = rearrange(h, "(b c) d n -> (b c) n d", b=b)
        for blk in self.temporal:
            h = h + blk(h)
        h = rearrange(h.mean(1), "(b c) d -> b c d", b=b) + self.chan_emb
        h = h + self.channel(h)
        return self.head(self.pool(h, bad_channel))
