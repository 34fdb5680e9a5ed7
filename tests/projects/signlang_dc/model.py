import torch
import torch.nn as nn
from einops import rearrange


def attention_logits(q, k):
    return torch.einsum("b h i d, b h j d -> b h i j", q, k)


def mask_missing_frames(logits, frame_mask):
    return logits.masked_fill(~frame_mask[:, None, None, :], float("-inf"))


class FrameAttention(nn.Module):
    def __init__(self, dim, heads, dropout):
        super().__init__()
        self.heads = heads
        self.to_qkv = nn.Linear(dim, dim * 3, bias=False)
        self.to_out = nn.Sequential(nn.Linear(dim, dim), nn.Dropout(dropout))

    def forward(self, x, frame_mask):
        q, k, v = self.to_qkv(x).chunk(3, dim=-1)
        q, k, v = (rearrange(t, "b n (h d) -> b h n d", h=self.heads) for t in (q, k, v))
        dots = attention_logits(q, k)
        dots = mask_missing_frames(dots, frame_mask)
        attn = dots.softmax(dim=-1)
        return self.to_out(rearrange(attn @ v, "b h n d -> b n (h d)"))


class HandCropCrossAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.to_q = nn.Linear(dim, dim)
        self.to_kv = nn.Linear(dim, 2 * dim)

    def forward(self, x, hand_tokens):
        q = rearrange(self.to_q(x), "b n (h d) -> b h n d", h=self.heads)
        k, v = (
            rearrange(t, "b m (h d) -> b h m d", h=self.heads)
            for t in self.to_kv(hand_tokens).chunk(2, -1)
        )
        attn = (torch.einsum("b h n d, b h m d -> b h n m", q, k) * self.scale).softmax(dim=-1)
        return rearrange(attn @ v, "b h n d -> b n (h d)")


class AttentionPool(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.w = nn.Linear(dim, 1)

    def forward(self, x, frame_mask):
        s = self.w(x).squeeze(-1).masked_fill(~frame_mask, float("-inf"))
        a = s.softmax(dim=-1)
        a = torch.where(frame_mask.any(dim=-1, keepdim=True), a, torch.zeros_like(a))
        return torch.einsum("bn,bnd->bd", a, x)


class SignTransformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed = nn.Sequential(
            nn.Linear(cfg.input_dim, cfg.d_model), nn.LayerNorm(cfg.d_model), nn.GELU()
        )
        self.hands = nn.Linear(2 * 21 * 3, cfg.d_model)
        self.layers = nn.ModuleList(
            [
                nn.ModuleList(
                    [
                        nn.LayerNorm(cfg.d_model),
                        FrameAttention(cfg.d_model, cfg.heads, cfg.dropout),
                        nn.LayerNorm(cfg.d_model),
                        HandCropCrossAttention(cfg.d_model, cfg.heads),
                        nn.LayerNorm(cfg.d_model),
                        nn.Sequential(
                            nn.Linear(cfg.d_model, 2 * cfg.d_model),
                            nn.GELU(),
                            nn.Linear(2 * cfg.d_model, cfg.d_model),
                        ),
                    ]
                )
                for _ in range(cfg.depth)
            ]
        )
        self.pool = AttentionPool(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.num_classes)

    def forward(self, landmarks, hands, frame_mask):
        x = self.embed(rearrange(landmarks, "b n l c -> b n (l c)"))
        h = self.hands(rearrange(hands, "b n l c -> b n (l c)"))
        for n1, attn, n2, cross, n3, ff in self.layers:
            x = x + attn(n1(x), frame_mask)
            x = x + cross(n2(x), h)
            x = x + ff(n3(x))
        return self.head(self.pool(x, frame_mask))
