"""Port of the equivariant attention denoiser from the paper's JAX/haiku code."""

import math

import torch
import torch.nn as nn
from einops import rearrange


class EquivariantAttention(nn.Module):
    def __init__(self, dim, heads=8):
        super().__init__()
        self.heads = heads
        self.to_qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.dist_gamma = nn.Parameter(torch.ones(heads))
        self.coord_out = nn.Linear(dim // heads, 1, bias=False)
        self.out = nn.Linear(dim, dim)

    def forward(self, h, x, atom_mask):
        q, k, v = self.to_qkv(h).chunk(3, dim=-1)
        q, k, v = (rearrange(t, "b n (h d) -> b h n d", h=self.heads) for t in (q, k, v))
        rel = x[:, :, None, :] - x[:, None, :, :]
        dist2 = rel.pow(2).sum(-1, keepdim=True).transpose(1, 3).transpose(2, 3)
        attn_logits = (
            torch.einsum("bhid,bhjd->bhij", q, k) - dist2 * self.dist_gamma[None, :, None, None]
        )
        attn_logits = torch.where(atom_mask[:, None, None, :], attn_logits, -1e9)
        attn = torch.softmax(attn_logits, dim=-1)
        msg = attn @ v
        w = self.coord_out(msg).squeeze(-1).mean(1)
        dx = (attn.mean(1)[..., None] * rel).sum(2) * torch.tanh(w)[..., None]
        return self.out(rearrange(msg, "b h n d -> b n (h d)")), x + dx / x.shape[1]


class TimeAttentionPool(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)

    def forward(self, h, t_emb, atom_mask):
        logits = torch.einsum("bd,bnd->bn", self.q(t_emb), self.k(h)) / math.sqrt(h.shape[-1])
        logits = logits.masked_fill(~atom_mask, torch.finfo(logits.dtype).min)
        return torch.einsum("bn,bnd->bd", logits.softmax(-1), h)


class EGNNDenoiser(nn.Module):
    def __init__(self, n_atom_features, dim=256, depth=6, heads=8):
        super().__init__()
        self.embed = nn.Linear(n_atom_features + 1, dim)
        self.layers = nn.ModuleList(EquivariantAttention(dim, heads) for _ in range(depth))
        self.pool = TimeAttentionPool(dim)
        self.eps_h = nn.Linear(2 * dim, n_atom_features)

    def forward(self, h, x, t, atom_mask):
        z = self.embed(torch.cat([h, t[:, None, None].expand(-1, h.shape[1], 1)], -1))
        x0 = x
        for layer in self.layers:
            dz, x = layer(z, x, atom_mask)
            z = z + dz
        g = self.pool(z, z.mean(1), atom_mask)[:, None].expand_as(z)
        return self.eps_h(torch.cat([z, g], -1)), x - x0
