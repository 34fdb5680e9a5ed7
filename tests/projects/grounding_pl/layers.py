import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange
from ops import masked_logits, pairwise_scores


class PhraseRegionAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.to_q = nn.Linear(d, d)
        self.to_kv = nn.Linear(d, 2 * d)
        self.out = nn.Linear(d, d)

    def forward(self, phrases, regions, region_keep):
        q = rearrange(self.to_q(phrases), "b p (h d) -> b h p d", h=self.heads)
        k, v = self.to_kv(regions).chunk(2, dim=-1)
        k = rearrange(k, "b r (h d) -> b h r d", h=self.heads)
        v = rearrange(v, "b r (h d) -> b h r d", h=self.heads)
        logits = pairwise_scores(q, k)
        logits = masked_logits(logits, region_keep)
        attn = logits.softmax(dim=-1)
        out = rearrange(attn @ v, "b h p d -> b p (h d)")
        return self.out(out), attn.mean(1)


class TextEncoderLayer(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.norm1 = nn.LayerNorm(d)
        self.norm2 = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x, token_keep):
        q, k, v = rearrange(
            self.qkv(self.norm1(x)), "b n (three h d) -> three b h n d", three=3, h=self.heads
        )
        attn_mask = token_keep[:, None, None, :]
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        x = x + self.proj(rearrange(y, "b h n d -> b n (h d)"))
        return x + self.ff(self.norm2(x))
