import math

import torch
import torch.nn.functional as F
from torch import nn


class StationAttention(nn.Module):
    def __init__(self, d, heads=4):
        super().__init__()
        self.h, self.dh = heads, d // heads
        self.q, self.k, self.v = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.o = nn.Linear(d, d)

    def forward(self, x, neighbours):
        b, n, d = x.shape
        q = self.q(x).view(b, n, self.h, self.dh).transpose(1, 2)
        k = self.k(x).view(b, n, self.h, self.dh).transpose(1, 2)
        v = self.v(x).view(b, n, self.h, self.dh).transpose(1, 2)
        s = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(self.dh)
        s = s.masked_fill(~neighbours[None, None], float("-inf"))
        a = s.softmax(dim=-1)
        return self.o((a @ v).transpose(1, 2).reshape(b, n, d))


class TemporalAttention(nn.Module):
    def __init__(self, d, window):
        super().__init__()
        self.qkv = nn.Linear(d, 3 * d)
        self.register_buffer("future", torch.triu(torch.ones(window, window, dtype=torch.bool), 1))

    def forward(self, x):
        t = x.size(-2)
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        s = (q @ k.transpose(-2, -1)) * q.size(-1) ** -0.5
        s = s.masked_fill(self.future[:t, :t], float("-inf"))
        return F.softmax(s, dim=-1) @ v


class AirQualitySTGNN(nn.Module):
    def __init__(self, n_pollutants, n_met, d=64, window=24, horizon=6):
        super().__init__()
        self.inp = nn.Linear(n_pollutants + n_met, d)
        self.temporal = TemporalAttention(d, window)
        self.spatial = StationAttention(d)
        self.head = nn.Linear(d, horizon * n_pollutants)
        self.horizon, self.n_pollutants = horizon, n_pollutants

    def forward(self, x, neighbours):
        b, n, t, _ = x.shape
        h = self.temporal(self.inp(x))[:, :, -1]
        h = h + self.spatial(h, neighbours)
        return self.head(h).view(b, n, self.horizon, self.n_pollutants)


def radius_graph(coords_km, radius_km):
    dist = torch.cdist(coords_km, coords_km)
    return (dist < radius_km) & ~torch.eye(len(coords_km), dtype=torch.bool)
