import torch
import torch.nn as nn
from einops import rearrange


class TemporalAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.scale = (dim // heads) ** -0.5

    def forward(self, x):
        q, k, v = (
            rearrange(t, "b t (h d) -> b h t d", h=self.heads) for t in self.qkv(x).chunk(3, -1)
        )
        sim = torch.einsum("bhid,bhjd->bhij", q, k) * self.scale
        causal = torch.ones(sim.shape[-2:], dtype=torch.bool, device=x.device).triu(1)
        sim = sim.masked_fill(causal, float("-inf"))
        return rearrange(sim.softmax(-1) @ v, "b h t d -> b t (h d)")


class Nowcaster(nn.Module):
    def __init__(self, in_channels, dim, heads, patch, horizon):
        super().__init__()
        self.patch = patch
        self.horizon = horizon
        self.embed = nn.Conv2d(in_channels, dim, patch, stride=patch)
        self.temporal = TemporalAttention(dim, heads)
        self.decode = nn.ConvTranspose2d(dim, horizon, patch, stride=patch)

    def forward(self, frames):
        b, t, c, h, w = frames.shape
        z = self.embed(frames.flatten(0, 1))
        gh, gw = z.shape[-2:]
        z = rearrange(z, "(b t) d gh gw -> (b gh gw) t d", b=b)
        z = self.temporal(z)[:, -1]
        z = rearrange(z, "(b gh gw) d -> b d gh gw", b=b, gh=gh, gw=gw)
        return self.decode(z)


def build_model(cfg, in_channels=None):
    in_channels = in_channels or cfg.model.in_channels
    return Nowcaster(in_channels, cfg.model.dim, cfg.model.heads, cfg.model.patch, cfg.data.horizon)
