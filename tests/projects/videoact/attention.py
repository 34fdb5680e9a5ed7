import torch
import torch.nn as nn
from einops import rearrange


class DividedSpaceTimeAttention(nn.Module):
    """TimeSformer-style divided attention: time first, then space."""

    def __init__(self, dim, heads=8, frames=8):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.to_qkv_t = nn.Linear(dim, dim * 3, bias=False)
        self.to_qkv_s = nn.Linear(dim, dim * 3, bias=False)
        self.proj_t = nn.Linear(dim, dim)
        self.proj_s = nn.Linear(dim, dim)
        self.register_buffer("causal", torch.tril(torch.ones(frames, frames, dtype=torch.bool)))

    def temporal(self, x, t):
        # x: (b*patches, t, d); frames only attend to the past for online recognition
        q, k, v = self.to_qkv_t(x).chunk(3, dim=-1)
        q, k, v = (rearrange(z, "b n (h d) -> b h n d", h=self.heads) for z in (q, k, v))
        sim = torch.matmul(q, k.transpose(-1, -2))
        sim = sim.masked_fill(~self.causal[:t, :t], float("-inf"))
        attn = sim.softmax(dim=-1)
        out = rearrange(attn @ v, "b h n d -> b n (h d)")
        return self.proj_t(out)

    def spatial(self, x):
        q, k, v = self.to_qkv_s(x).chunk(3, dim=-1)
        q, k, v = (rearrange(z, "b n (h d) -> b h n d", h=self.heads) for z in (q, k, v))
        dots = torch.einsum("bhid,bhjd->bhij", q, k) * self.scale
        attn = dots.softmax(dim=-1)
        return self.proj_s(rearrange(attn @ v, "b h n d -> b n (h d)"))

    def forward(self, x, t):
        # x: (b, t*n, d)
        b, tn, d = x.shape
        n = tn // t
        xt = rearrange(x, "b (t n) d -> (b n) t d", t=t)
        x = x + rearrange(self.temporal(xt, t), "(b n) t d -> b (t n) d", n=n)
        xs = rearrange(x, "b (t n) d -> (b t) n d", t=t)
        return x + rearrange(self.spatial(xs), "(b t) n d -> b (t n) d", t=t)
