import torch
import torch.nn as nn
import torch.nn.functional as F


class NonLocal2d(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.f = nn.Conv2d(channels, channels // 8, 1)
        self.g = nn.Conv2d(channels, channels // 8, 1)
        self.h = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        B, C, H, W = x.shape
        q = self.f(x).flatten(2).transpose(1, 2)
        k = self.g(x).flatten(2)
        attn = F.softmax(torch.bmm(q, k), dim=-1)
        v = self.h(x).flatten(2)
        out = torch.bmm(v, attn.transpose(1, 2)).view(B, C, H, W)
        return x + self.gamma * out


class CosineAttention(nn.Module):
    def __init__(self, dim, tau=0.1):
        super().__init__()
        self.qk = nn.Linear(dim, 2 * dim)
        self.tau = tau

    def forward(self, x):
        q, k = self.qk(x).chunk(2, -1)
        sim = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
        return F.softmax(sim / self.tau, dim=-1) @ x


class TabTransformer(nn.Module):
    def __init__(self, num_features, num_classes, dim=32, heads=4):
        super().__init__()
        self.embed = nn.Linear(1, dim)
        self.col = nn.Parameter(torch.randn(num_features, dim))
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.cos = CosineAttention(dim)
        self.out = nn.Linear(num_features * dim, num_classes)

    def forward(self, x, col_mask):
        h = self.embed(x.unsqueeze(-1)) + self.col
        scores = torch.einsum("bid,bjd->bij", h, h) / h.shape[-1] ** 0.5
        scores = scores.masked_fill(~col_mask[:, None, :], -torch.inf)
        w = torch.softmax(scores, dim=-1)
        if col_mask.any():
            h = h + w @ h
        h = h + self.cos(h)
        return self.out(h.flatten(1))
