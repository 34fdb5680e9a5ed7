import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from kernels import ball_mask, gather_neighbors, knn, neighbor_logits


class PointTransformerLayer(nn.Module):
    """Vector attention: a learned weight per channel from q - k + positional term."""

    def __init__(self, dim, k=16):
        super().__init__()
        self.k = k
        self.to_q = nn.Linear(dim, dim)
        self.to_k = nn.Linear(dim, dim)
        self.to_v = nn.Linear(dim, dim)
        self.pos_mlp = nn.Sequential(nn.Linear(3, dim), nn.ReLU(), nn.Linear(dim, dim))
        self.attn_mlp = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim))

    def forward(self, xyz, feat):
        idx = knn(xyz, xyz, self.k)
        q = self.to_q(feat)
        k = gather_neighbors(self.to_k(feat), idx)
        v = gather_neighbors(self.to_v(feat), idx)
        pos = self.pos_mlp(xyz.unsqueeze(2) - gather_neighbors(xyz, idx))
        w = self.attn_mlp(q.unsqueeze(2) - k + pos)
        w = F.softmax(w / math.sqrt(q.shape[-1]), dim=2)
        return ((v + pos) * w).sum(2)


class LocalDotAttention(nn.Module):
    """Dot-product attention restricted to each point's k nearest neighbours."""

    def __init__(self, dim, k=16):
        super().__init__()
        self.k = k
        self.to_q = nn.Linear(dim, dim)
        self.to_k = nn.Linear(dim, dim)
        self.to_v = nn.Linear(dim, dim)

    def forward(self, xyz, feat):
        idx = knn(xyz, xyz, self.k)
        q = self.to_q(feat).unsqueeze(-2)  # [B, N, 1, C]
        k = gather_neighbors(self.to_k(feat), idx)  # [B, N, K, C]
        v = gather_neighbors(self.to_v(feat), idx)
        logits = torch.matmul(q, k.transpose(-1, -2)).squeeze(-2)  # [B, N, K]
        attn = torch.softmax(logits, dim=-1)
        return torch.einsum("bnk,bnkc->bnc", attn, v)


class TransitionUp(nn.Module):
    """Carry coarse features back to the dense points: attention over coarse points in a ball."""

    def __init__(self, dim, k=8, radius=0.2):
        super().__init__()
        self.k = k
        self.radius = radius
        self.to_q = nn.Linear(dim, dim)
        self.to_k = nn.Linear(dim, dim)
        self.to_v = nn.Linear(dim, dim)

    def forward(self, dense_xyz, dense_feat, coarse_xyz, coarse_feat):
        idx = knn(dense_xyz, coarse_xyz, self.k)
        inside = ball_mask(dense_xyz, coarse_xyz, idx, self.radius)
        q = self.to_q(dense_feat).unsqueeze(2)
        k = gather_neighbors(self.to_k(coarse_feat), idx)
        v = gather_neighbors(self.to_v(coarse_feat), idx)
        logits = (q * k).sum(-1) / math.sqrt(q.shape[-1])
        w = F.softmax(neighbor_logits(logits, inside), dim=-1)
        return dense_feat + (w.unsqueeze(-1) * v).sum(2)


class PointSegNet(nn.Module):
    def __init__(self, mcfg):
        super().__init__()
        dim = mcfg.dim
        self.embed = nn.Sequential(nn.Linear(mcfg.in_channels, dim), nn.ReLU(), nn.Linear(dim, dim))
        self.pt = nn.ModuleList(PointTransformerLayer(dim, mcfg.k) for _ in range(mcfg.depth))
        self.local = LocalDotAttention(dim, mcfg.k)
        self.up = TransitionUp(dim, radius=mcfg.up_radius)
        self.stride = mcfg.stride
        self.head = nn.Linear(dim, mcfg.num_classes)

    def forward(self, xyz, feat):
        h = self.embed(feat)
        for layer in self.pt:
            h = h + layer(xyz, h)
        sub = torch.arange(0, xyz.shape[1], self.stride, device=xyz.device)
        coarse_xyz, coarse = xyz[:, sub], h[:, sub]
        coarse = coarse + self.local(coarse_xyz, coarse)
        h = self.up(xyz, h, coarse_xyz, coarse)
        return self.head(h)
