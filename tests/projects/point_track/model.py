import ops
import torch
import torch.nn as nn


class TimeAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.h = heads
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.scale = (d // heads) ** -0.5

    def forward(self, x, bias):
        b, t, d = x.shape
        q = self.q(x).view(b, t, self.h, -1)
        k = self.k(x).view(b, t, self.h, -1)
        v = self.v(x).view(b, t, self.h, -1)
        logits = ops.dot_product_logits(q, k)
        logits = logits + bias
        w = torch.softmax(logits, dim=-1)
        return self.o(torch.einsum("bhqk,bkhd->bqhd", w, v).reshape(b, t, d))


class SupportAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.h = heads
        self.q, self.k, self.v = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.scale = (d // heads) ** -0.5

    def forward(self, x, support, support_vis):
        b, t, d = x.shape
        q = self.q(x).view(b, t, self.h, -1)
        k = self.k(support).view(b, support.shape[1], self.h, -1)
        logits = ops.dot_product_logits(q * self.scale, k)
        logits = torch.where(support_vis[:, None, None, :], logits, -torch.inf)
        w = logits.softmax(-1)
        return x + torch.einsum(
            "bhqk,bkhd->bqhd", w, self.v(support).view(b, -1, self.h, d // self.h)
        ).reshape(b, t, d)


class PointTracker(nn.Module):
    def __init__(self, d=128, heads=4, iters=4):
        super().__init__()
        self.iters = iters
        self.backbone = nn.Sequential(
            nn.Conv2d(3, 64, 7, 4, 3), nn.GELU(), nn.Conv2d(64, d, 3, 2, 1)
        )
        self.time = TimeAttention(d, heads)
        self.support = SupportAttention(d, heads)
        self.delta = nn.Linear(d, 2)
        self.occ = nn.Linear(d, 1)

    def forward(self, video, query_xy, query_t, support_xy, support_vis):
        b, t = video.shape[:2]
        feats = self.backbone(video.flatten(0, 1))
        feats = feats.view(b, t, *feats.shape[1:])
        stride = video.shape[-1] / feats.shape[-1]
        tracks = query_xy[:, None].expand(-1, t, -1).clone()
        sup = ops.bilinear_sample(feats[:, 0], support_xy / stride)
        dt = torch.arange(t, device=video.device)
        bias = -(dt[None, :] - dt[:, None]).abs().float()[None, None] * 0.1
        for _ in range(self.iters):
            f = torch.stack(
                [
                    ops.bilinear_sample(feats[:, i], tracks[:, i : i + 1] / stride)[:, 0]
                    for i in range(t)
                ],
                1,
            )
            f = self.support(self.time(f, bias), sup, support_vis)
            tracks = tracks + self.delta(f)
        return tracks, self.occ(f).squeeze(-1)
