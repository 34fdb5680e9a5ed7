import math

import torch
import torch.nn as nn


class MAB(nn.Module):
    def __init__(self, dim_Q, dim_K, dim_V, num_heads):
        super().__init__()
        self.dim_V = dim_V
        self.num_heads = num_heads
        self.fc_q = nn.Linear(dim_Q, dim_V)
        self.fc_k = nn.Linear(dim_K, dim_V)
        self.fc_v = nn.Linear(dim_K, dim_V)
        self.fc_o = nn.Linear(dim_V, dim_V)

    def forward(self, Q, K, mask=None):
        Q = self.fc_q(Q)
        K, V = self.fc_k(K), self.fc_v(K)
        ds = self.dim_V // self.num_heads
        Q_ = torch.cat(Q.split(ds, 2), 0)
        K_ = torch.cat(K.split(ds, 2), 0)
        V_ = torch.cat(V.split(ds, 2), 0)
        E = Q_.bmm(K_.transpose(1, 2)) / math.sqrt(self.dim_V)
        if mask is not None:
            E = E.masked_fill(~mask.repeat(self.num_heads, 1).unsqueeze(1), -1e9)
        A = torch.softmax(E, 2)
        O = torch.cat((Q_ + A.bmm(V_)).split(Q.size(0), 0), 2)
        return O + torch.relu(self.fc_o(O))


class FastMAB(MAB):
    def forward(self, Q, K, mask=None):
        q, k, v = self.fc_q(Q), self.fc_k(K), self.fc_v(K)
        A = torch.softmax(torch.einsum("bnd,bmd->bnm", q, k), -1)
        return q + A @ v


class PointSelfAttention(nn.Module):
    """Self-attention of a point cloud laid out [B, C, N] as convolution features."""

    def __init__(self, channels):
        super().__init__()
        self.q_conv = nn.Conv1d(channels, channels // 4, 1)
        self.k_conv = nn.Conv1d(channels, channels // 4, 1)
        self.v_conv = nn.Conv1d(channels, channels, 1)

    def forward(self, x):
        q = self.q_conv(x).permute(0, 2, 1)
        k = self.k_conv(x)
        energy = torch.bmm(q, k)
        attn = torch.softmax(energy, dim=-1)
        return x + torch.bmm(self.v_conv(x), attn.permute(0, 2, 1))


def masked_attention_pool(x, mask, w):
    s = (x @ w).squeeze(-1)
    s[~mask] = -float("inf")
    a = s.softmax(dim=1)
    return (a.unsqueeze(-1) * x).sum(1)


def masked_mean_pool(x, mask, w):
    s = (x @ w).squeeze(-1)
    s = s.masked_fill(~mask, -float("inf"))
    a = s.softmax(dim=1)
    a = torch.where(mask.any(1, keepdim=True), a, torch.zeros_like(a))
    return (a.unsqueeze(-1) * x).sum(1)


class SetTransformer(nn.Module):
    def __init__(self, point_dim, dim_hidden=128, num_heads=4, num_outputs=1):
        super().__init__()
        self.embed = nn.Linear(point_dim, dim_hidden)
        self.enc = MAB(dim_hidden, dim_hidden, dim_hidden, num_heads)
        self.fast = FastMAB(dim_hidden, dim_hidden, dim_hidden, num_heads)
        self.pool_w = nn.Parameter(torch.randn(dim_hidden, 1))
        self.out = nn.Linear(dim_hidden, num_outputs)

    def forward(self, points, mask):
        h = self.embed(points)
        h = self.fast(self.enc(h, h, mask), h)
        return self.out(
            masked_attention_pool(h, mask, self.pool_w) + masked_mean_pool(h, mask, self.pool_w)
        )
