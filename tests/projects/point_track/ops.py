"""Ported from the JAX reference implementation (tapnet-style); jnp -> torch."""

import torch
import torch.nn.functional as F


def dot_product_logits(q, k):
    return torch.einsum("bqhd,bkhd->bhqk", q, k)


def bilinear_sample(feat, xy):
    b, c, h, w = feat.shape
    grid = torch.stack([2 * xy[..., 0] / (w - 1) - 1, 2 * xy[..., 1] / (h - 1) - 1], -1)
    return F.grid_sample(feat, grid[:, :, None], align_corners=True).squeeze(-1).transpose(1, 2)


def clip_to_frame(xy, h, w):
    return torch.stack([xy[..., 0].clamp(0.0, w - 1.0), xy[..., 1].clamp(0.0, h - 1.0)], -1)


def huber(pred, target, delta=4.0):
    err = (pred - target).norm(dim=-1)
    return torch.where(err < delta, 0.5 * err**2, delta * (err - 0.5 * delta))
