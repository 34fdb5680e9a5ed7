import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange


class PartAttention(nn.Module):
    """Learned part tokens (head, flank, tail...) attend over backbone patches."""

    def __init__(self, dim, n_parts=6, heads=8):
        super().__init__()
        self.heads = heads
        self.parts = nn.Parameter(torch.randn(1, n_parts, dim) * 0.02)
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_kv = nn.Linear(dim, 2 * dim, bias=False)
        self.out = nn.Linear(dim, dim)

    def forward(self, patches, patch_keep):
        b = patches.shape[0]
        q = rearrange(self.to_q(self.parts.expand(b, -1, -1)), "b p (h d) -> b h p d", h=self.heads)
        k, v = (
            rearrange(t, "b n (h d) -> b h n d", h=self.heads)
            for t in self.to_kv(patches).chunk(2, -1)
        )
        sim = torch.einsum("b h p d, b h n d -> b h p n", q, k)
        sim = sim.masked_fill(~patch_keep[:, None, None, :], -1e4)
        attn = sim.softmax(dim=-1)
        return self.out(rearrange(attn @ v, "b h p d -> b p (h d)"))


class CosinePatchMixer(nn.Module):
    def __init__(self, dim, heads=8, tau=0.1):
        super().__init__()
        self.heads, self.tau = heads, tau
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)

    def forward(self, x):
        q, k, v = (
            rearrange(t, "b n (h d) -> b h n d", h=self.heads) for t in self.qkv(x).chunk(3, -1)
        )
        q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
        attn = (torch.einsum("b h i d, b h j d -> b h i j", q, k) / self.tau).softmax(-1)
        return x + rearrange(attn @ v, "b h n d -> b n (h d)")


class ReIDNet(nn.Module):
    def __init__(self, backbone, dim, n_ids, n_parts=6):
        super().__init__()
        self.backbone = backbone
        self.mix = CosinePatchMixer(dim)
        self.parts = PartAttention(dim, n_parts)
        self.bnneck = nn.BatchNorm1d(dim * n_parts)
        self.classifier = nn.Linear(dim * n_parts, n_ids, bias=False)

    def forward(self, img, patch_keep):
        patches = self.mix(self.backbone(img))
        emb = self.bnneck(self.parts(patches, patch_keep).flatten(1))
        return emb, self.classifier(emb)
