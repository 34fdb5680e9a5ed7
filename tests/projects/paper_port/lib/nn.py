import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange


def attn(q, k, v, m=None):
    s = torch.einsum("bhid,bhjd->bhij", q, k) * q.shape[-1] ** -0.5
    if m is not None:
        s = s.masked_fill(m == 0, float("-inf"))
    a = F.softmax(s, -1)
    o = torch.einsum("bhij,bhjd->bhid", a, v)
    return o, a


def attn_safe(q, k, v, m):
    s = torch.einsum("bhid,bhjd->bhij", q, k) * q.shape[-1] ** -0.5
    s = s.masked_fill(m == 0, -np.inf)
    a = F.softmax(s, -1)
    a = torch.where(torch.isnan(a), torch.zeros_like(a), a)
    return torch.einsum("bhij,bhjd->bhid", a, v)


class Blk(nn.Module):
    def __init__(s, d, h=8):
        super().__init__()
        s.h = h
        s.to_qkv = nn.Linear(d, 3 * d, bias=False)
        s.o = nn.Linear(d, d)

    def forward(s, x, m=None):
        q, k, v = s.to_qkv(x).chunk(3, -1)
        q, k, v = (rearrange(t, "b n (h d) -> b h n d", h=s.h) for t in (q, k, v))
        o, _ = attn(q, k, v, m)
        return s.o(rearrange(o, "b h n d -> b n (h d)"))


class XBlk(nn.Module):
    def __init__(s, d, h=8):
        super().__init__()
        s.h = h
        s.q = nn.Linear(d, d, bias=False)
        s.kv = nn.Linear(d, 2 * d, bias=False)

    def forward(s, x, c):
        q = rearrange(s.q(x), "b n (h d) -> b h n d", h=s.h)
        k, v = (rearrange(t, "b n (h d) -> b h n d", h=s.h) for t in s.kv(c).chunk(2, -1))
        w = F.softmax(torch.einsum("bhid,bhjd->bhij", q, k), dim=-1)
        return rearrange(w @ v, "b h n d -> b n (h d)")


class Net(nn.Module):
    def __init__(s, d_in, d=256, depth=4, n_cls=10):
        super().__init__()
        s.emb = nn.Linear(d_in, d)
        s.blks = nn.ModuleList([Blk(d) for _ in range(depth)])
        s.x = XBlk(d)
        s.hd = nn.Linear(d, n_cls)

    def forward(s, x, c, m=None):
        x = s.emb(x)
        for b in s.blks:
            x = x + b(x, m)
        return s.hd(x + s.x(x, c)).mean(1)
