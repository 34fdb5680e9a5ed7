"""Port of the spatio-temporal attention blocks from the authors' Flax code."""

import math

import torch
import torch.nn as nn


class SpatialAttention(nn.Module):
    # flax: nn.MultiHeadDotProductAttention over the node axis, adjacency as mask
    def __init__(self, d_model, heads):
        super().__init__()
        self.heads = heads
        self.depth = d_model // heads
        self.query = nn.Linear(d_model, d_model)
        self.key = nn.Linear(d_model, d_model)
        self.value = nn.Linear(d_model, d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x, adj):
        *lead, n, _ = x.shape
        query = self.query(x).view(*lead, n, self.heads, self.depth)
        key = self.key(x).view(*lead, n, self.heads, self.depth)
        value = self.value(x).view(*lead, n, self.heads, self.depth)
        attn_logits = torch.einsum("...qhd,...khd->...hqk", query, key)
        attn_logits = attn_logits.masked_fill(adj == 0, -1e9)
        attn_weights = torch.softmax(attn_logits, dim=-1)
        y = torch.einsum("...hqk,...khd->...qhd", attn_weights, value)
        return self.out(y.reshape(*lead, n, -1))


class TemporalAttention(nn.Module):
    def __init__(self, d_model, heads):
        super().__init__()
        self.heads = heads
        self.depth = d_model // heads
        self.qkv = nn.Linear(d_model, 3 * d_model)

    def forward(self, x, time_bias):
        bn, t, d = x.shape
        q, k, v = (
            self.qkv(x)
            .view(bn, t, 3, self.heads, self.depth)
            .permute(2, 0, 3, 1, 4)
            .reshape(3, bn * self.heads, t, self.depth)
        )
        scale = 1.0 / math.sqrt(self.depth)
        logits = torch.baddbmm(
            time_bias.expand(bn * self.heads, t, t), q, k.transpose(1, 2), alpha=scale
        )
        w = logits.softmax(dim=-1)
        return torch.bmm(w, v).view(bn, self.heads, t, self.depth).transpose(1, 2).reshape(bn, t, d)


class STGraphFormer(nn.Module):
    def __init__(self, num_node_features, d_model, heads, horizon):
        super().__init__()
        self.inp = nn.Linear(num_node_features, d_model)
        self.spatial = SpatialAttention(d_model, heads)
        self.temporal = TemporalAttention(d_model, heads)
        self.head = nn.Linear(d_model, horizon)

    def forward(self, x, adj, time_bias):
        b, t, n, _ = x.shape
        h = self.inp(x)
        h = h + self.spatial(h, adj)
        h = h.permute(0, 2, 1, 3).reshape(b * n, t, -1)
        h = h + self.temporal(h, time_bias)
        return self.head(h[:, -1]).view(b, n, -1).transpose(1, 2)


def masked_mae_loss(preds, labels, null_val=0.0):
    mask = (labels != null_val).float()
    mask = mask / mask.mean()
    mask = torch.where(torch.isnan(mask), torch.zeros_like(mask), mask)
    loss = torch.abs(preds - labels) * mask
    loss = torch.where(torch.isnan(loss), torch.zeros_like(loss), loss)
    return loss.mean()


def apply_update(accelerator, model, optimizer, scheduler, max_norm):
    norm = accelerator.clip_grad_norm_(model.parameters(), max_norm)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad()
    return norm
