import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange


def _logits(q, k):
    return torch.einsum("bhid,bhjd->bhij", q, k)


class CausalBlock(nn.Module):
    def __init__(self, d_model, n_heads, max_len):
        super().__init__()
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.ln1 = nn.LayerNorm(d_model)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model)
        )
        future = torch.triu(torch.ones(max_len, max_len, dtype=torch.bool), diagonal=1)
        self.register_buffer("future", future, persistent=False)

    def forward(self, x):
        T = x.shape[1]
        q, k, v = self.qkv(self.ln1(x)).chunk(3, dim=-1)
        q, k, v = (rearrange(t, "b t (h d) -> b h t d", h=self.n_heads) for t in (q, k, v))
        att = _logits(q, k)
        att = att.masked_fill(self.future[:T, :T], float("-inf"))
        att = att.softmax(dim=-1)
        h = rearrange(att @ v, "b h t d -> b t (h d)")
        x = x + self.out(h)
        return x + self.mlp(self.ln2(x))


class SlotReadout(nn.Module):
    def __init__(self, d_model, n_slots):
        super().__init__()
        self.slots = nn.Parameter(torch.randn(n_slots, d_model) * 0.02)
        self.k = nn.Linear(d_model, d_model)
        self.v = nn.Linear(d_model, d_model)
        self.scale = d_model**-0.5

    def forward(self, h):
        q = self.slots[None].expand(h.shape[0], -1, -1) * self.scale
        w = torch.softmax(q @ self.k(h).transpose(-2, -1), dim=-1)
        return (w @ self.v(h)).flatten(1)


class TransformerWorldModel(nn.Module):
    def __init__(
        self,
        obs_dim,
        action_dim,
        d_model=256,
        n_heads=4,
        n_layers=4,
        max_len=64,
        n_classes=32,
        n_slots=4,
    ):
        super().__init__()
        self.embed = nn.Linear(obs_dim + action_dim, d_model)
        self.pos = nn.Parameter(torch.zeros(1, max_len, d_model))
        self.blocks = nn.ModuleList(CausalBlock(d_model, n_heads, max_len) for _ in range(n_layers))
        self.readout = SlotReadout(d_model, n_slots)
        self.prior_head = nn.Linear(d_model, n_classes)
        self.post_head = nn.Linear(d_model + obs_dim, n_classes)
        self.reward_head = nn.Linear(d_model, 1)
        self.cont_head = nn.Linear(d_model, 1)
        self.decoder = nn.Linear(d_model, obs_dim)

    def forward(self, obs, act):
        x = self.embed(torch.cat([obs, act], -1)) + self.pos[:, : obs.shape[1]]
        for blk in self.blocks:
            x = blk(x)
        return {
            "prior": self.prior_head(x),
            "post": self.post_head(torch.cat([x, obs], -1)),
            "reward": self.reward_head(x).squeeze(-1),
            "cont": self.cont_head(x).squeeze(-1),
            "recon": self.decoder(x),
            "summary": self.readout(x),
        }


def temperature_softmax(logits, tau):
    return F.softmax(logits / max(tau, 1e-3), dim=-1) if math.isfinite(tau) else logits.softmax(-1)
