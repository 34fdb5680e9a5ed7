import torch
import torch.nn as nn


class ItemAttention(nn.Module):
    def __init__(self, dim, heads=2):
        super().__init__()
        self.heads = heads
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(dim, dim, bias=False)
        self.to_v = nn.Linear(dim, dim, bias=False)

    def forward(self, x, valid):
        b, n, d = x.shape
        h = self.heads
        q = self.to_q(x).reshape(b, n, h, d // h).permute(0, 2, 1, 3)
        k = self.to_k(x).reshape(b, n, h, d // h).permute(0, 2, 1, 3)
        v = self.to_v(x).reshape(b, n, h, d // h).permute(0, 2, 1, 3)
        dots = q.matmul(k.permute(0, 1, 3, 2))
        dots = torch.where(valid[:, None, None, :], dots, float("-inf"))
        attn = dots.softmax(dim=-1)
        out = attn.matmul(v)
        attn = attn.nan_to_num(0.0)
        self.last_attn = attn
        return out.permute(0, 2, 1, 3).reshape(b, n, d)


class ScaledItemAttention(ItemAttention):
    def forward(self, x, valid):
        b, n, d = x.shape
        h = self.heads
        q = self.to_q(x).reshape(b, n, h, d // h).transpose(1, 2)
        k = self.to_k(x).reshape(b, n, h, d // h).transpose(1, 2)
        v = self.to_v(x).reshape(b, n, h, d // h).transpose(1, 2)
        empty = torch.zeros(b, h, n, n, device=x.device, dtype=x.dtype)
        dots = torch.baddbmm(
            empty.flatten(0, 1),
            q.flatten(0, 1),
            k.flatten(0, 1).transpose(1, 2),
            alpha=(d // h) ** -0.5,
        )
        dots = dots.view(b, h, n, n)
        dots[~valid[:, None, None, :].expand_as(dots)] = -float("inf")
        attn = torch.nan_to_num(dots.softmax(-1))
        return (attn @ v).transpose(1, 2).reshape(b, n, d)


class Recommender(nn.Module):
    def __init__(self, n_feats, dim=64, scaled=True):
        super().__init__()
        self.inp = nn.Linear(n_feats, dim)
        self.attn = ScaledItemAttention(dim) if scaled else ItemAttention(dim)
        self.out = nn.Linear(dim, 1)

    def forward(self, feats, valid):
        h = self.inp(feats)
        h = h + self.attn(h, valid)
        return self.out(h).squeeze(-1)
