import torch
import torch.nn as nn

from .utils import *


class PointPool(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.score = nn.Linear(d, 1)

    def forward(self, pts, pt_pad):
        s = self.score(pts).squeeze(-1)
        w = mask_points(s, pt_pad).softmax(dim=-1)
        return (w.unsqueeze(-1) * pts).sum(-2)


class StrokeMixer(nn.Module):
    def __init__(self, d, tau=None):
        super().__init__()
        self.q = nn.Linear(d, d)
        self.k = nn.Linear(d, d)
        self.v = nn.Linear(d, d)
        self.tau = tau or d**0.5

    def forward(self, strokes):
        q, k, v = self.q(strokes), self.k(strokes), self.v(strokes)
        local = (affinity(q, k) / self.tau).softmax(-1) @ v
        glob = torch.softmax(torch.bmm(q, k.transpose(1, 2)), dim=-1) @ v
        return strokes + local + glob


class SketchFormer(nn.Module):
    def __init__(self, d=256, n_classes=345):
        super().__init__()
        self.pt = nn.Linear(3, d)
        self.pool = PointPool(d)
        self.mix = nn.ModuleList(StrokeMixer(d) for _ in range(4))
        self.cls = nn.Linear(d, n_classes)

    def forward(self, points, pt_pad, stroke_pad):
        h = self.pool(self.pt(points), pt_pad)
        for m in self.mix:
            h = m(h)
        keep = (~stroke_pad).float().unsqueeze(-1)
        return self.cls((h * keep).sum(1) / keep.sum(1).clamp(min=1.0))
