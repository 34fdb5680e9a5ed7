"""Radar/LiDAR query fusion, ported from our Flax implementation (fusion_flax/layers.py)."""

import math

import torch
import torch.nn as nn
from einops import rearrange


def qk_product(q, k):
    return torch.einsum("bhqd,bhkd->bhqk", q, k)


def pair_logits(q, k):
    return qk_product(q, k)


class RadarToLidarAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.to_q = nn.Linear(d, d, bias=False)
        self.to_kv = nn.Linear(d, 2 * d, bias=False)
        self.out = nn.Linear(d, d)

    def forward(self, lidar, radar, radar_valid):
        q = rearrange(self.to_q(lidar), "b n (h d) -> b h n d", h=self.heads)
        k, v = rearrange(self.to_kv(radar), "b m (two h d) -> two b h m d", two=2, h=self.heads)
        big_neg = torch.finfo(q.dtype).min
        logits = pair_logits(q, k)
        logits = torch.where(radar_valid[:, None, None, :], logits, big_neg)
        weights = logits.softmax(dim=-1)
        return lidar + self.out(rearrange(weights @ v, "b h n d -> b n (h d)"))


class LidarSelfAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.out = nn.Linear(d, d)

    def forward(self, x, valid):
        q, k, v = rearrange(self.qkv(x), "b n (three h d) -> three b h n d", three=3, h=self.heads)
        q = q / math.sqrt(q.shape[-1])
        assert valid.any(dim=-1).all(), "a sweep with no valid pillar"
        logits = qk_product(q, k).masked_fill(~valid[:, None, None, :], float("-inf"))
        return x + self.out(rearrange(logits.softmax(-1) @ v, "b h n d -> b n (h d)"))


class FusionNet(nn.Module):
    def __init__(self, mcfg):
        super().__init__()
        self.radar_in = nn.Linear(mcfg.radar_dim, mcfg.d_model)
        self.lidar_in = nn.Linear(mcfg.lidar_dim, mcfg.d_model)
        self.lidar_sa = LidarSelfAttention(mcfg.d_model, mcfg.n_heads)
        self.fuse = RadarToLidarAttention(mcfg.d_model, mcfg.n_heads)
        self.cls_head = nn.Linear(mcfg.d_model, mcfg.n_classes)
        self.box_head = nn.Linear(mcfg.d_model, 7)

    def forward(self, lidar, lidar_valid, radar, radar_valid):
        x = self.lidar_sa(self.lidar_in(lidar), lidar_valid)
        x = self.fuse(x, self.radar_in(radar), radar_valid)
        return {"cls_logits": self.cls_head(x), "boxes": self.box_head(x)}


def build(cfg):
    return FusionNet(cfg.model)
