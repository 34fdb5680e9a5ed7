import torch
import torch.nn as nn
from einops import rearrange, repeat
from ops import attend


class TokenAttention(nn.Module):
    def __init__(self, dim, heads=8):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.to_qkv = nn.Linear(dim, dim * 3, bias=False)
        self.to_out = nn.Linear(dim, dim)

    def forward(self, x):
        q, k, v = self.to_qkv(x).chunk(3, dim=-1)
        q, k, v = (rearrange(t, "b n (h d) -> b h n d", h=self.heads) for t in (q, k, v))
        return self.to_out(rearrange(attend(q * self.scale, k, v), "b h n d -> b n (h d)"))


class KeypointCrossAttention(nn.Module):
    def __init__(self, dim, heads=8):
        super().__init__()
        self.heads = heads
        self.to_q, self.to_kv = nn.Linear(dim, dim, bias=False), nn.Linear(dim, 2 * dim, bias=False)
        self.to_out = nn.Linear(dim, dim)

    def forward(self, kp, patches):
        q = rearrange(self.to_q(kp), "b n (h d) -> b h n d", h=self.heads)
        k, v = (
            rearrange(t, "b n (h d) -> b h n d", h=self.heads)
            for t in self.to_kv(patches).chunk(2, dim=-1)
        )
        return self.to_out(rearrange(attend(q, k, v), "b h n d -> b n (h d)"))


class HandPoseTransformer(nn.Module):
    def __init__(
        self,
        in_channels,
        num_joints=21,
        img_size=256,
        patch=16,
        dim=256,
        depth=6,
        heads=8,
        heatmap=64,
    ):
        super().__init__()
        self.patch_embed = nn.Conv2d(in_channels, dim, patch, stride=patch)
        self.pos = nn.Parameter(torch.zeros(1, (img_size // patch) ** 2, dim))
        self.kp_tokens = nn.Parameter(torch.randn(1, num_joints, dim) * 0.02)
        self.self_blocks = nn.ModuleList(TokenAttention(dim, heads) for _ in range(depth))
        self.cross = KeypointCrossAttention(dim, heads)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, heatmap * heatmap)
        self.heatmap = heatmap

    def forward(self, img):
        x = rearrange(self.patch_embed(img), "b c h w -> b (h w) c") + self.pos
        for blk in self.self_blocks:
            x = x + blk(self.norm(x))
        kp = repeat(self.kp_tokens, "1 j d -> b j d", b=x.shape[0])
        kp = kp + self.cross(kp, x)
        return rearrange(self.head(kp), "b j (h w) -> b j h w", h=self.heatmap)


def build_model(mcfg, in_channels=None):
    in_channels = in_channels if in_channels is not None else mcfg.in_channels
    return HandPoseTransformer(
        in_channels, num_joints=mcfg.num_joints, img_size=mcfg.img_size, dim=mcfg.dim
    )
