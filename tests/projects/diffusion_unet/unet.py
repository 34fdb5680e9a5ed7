import torch
import torch.nn as nn
import torch.nn.functional as F


class AttnBlock(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.norm = nn.GroupNorm(32, ch)
        self.q = nn.Conv2d(ch, ch, 1)
        self.k = nn.Conv2d(ch, ch, 1)
        self.v = nn.Conv2d(ch, ch, 1)
        self.proj = nn.Conv2d(ch, ch, 1)

    def forward(self, x):
        b, c, h, w = x.shape
        hn = self.norm(x)
        q = self.q(hn).reshape(b, c, h * w)
        k = self.k(hn).reshape(b, c, h * w)
        v = self.v(hn).reshape(b, c, h * w)
        w_ = torch.einsum("bci,bcj->bij", q, k) * (int(c) ** (-0.5))
        w_ = F.softmax(w_, dim=2)
        return x + self.proj(torch.einsum("bij,bcj->bci", w_, v).reshape(b, c, h, w))


class FastAttnBlock(AttnBlock):
    def forward(self, x):
        b, c, h, w = x.shape
        hn = self.norm(x)
        q = self.q(hn).reshape(b, c, h * w)
        k = self.k(hn).reshape(b, c, h * w)
        v = self.v(hn).reshape(b, c, h * w)
        w_ = torch.einsum("bci,bcj->bij", q, k)
        w_ = F.softmax(w_, dim=2)
        return x + self.proj(torch.einsum("bij,bcj->bci", w_, v).reshape(b, c, h, w))


class CrossAttention(nn.Module):
    def __init__(self, dim, ctx_dim, heads=8):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(ctx_dim, dim, bias=False)

    def forward(self, x, ctx):
        q, k = self.to_q(x), self.to_k(ctx)
        sim = torch.baddbmm(
            torch.empty(q.shape[0], q.shape[1], k.shape[1], dtype=q.dtype, device=q.device),
            q,
            k.transpose(-1, -2),
            beta=0,
            alpha=self.scale,
        )
        return sim.softmax(dim=-1) @ k
