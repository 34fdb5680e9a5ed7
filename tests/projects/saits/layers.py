"""Port of the reference JAX implementation (flax.linen) to PyTorch."""

import torch
from torch import nn


def attention_logits(query, key):
    return torch.einsum("bqhd,bkhd->bhqk", query, key)


def masked_mae(pred, target, mask):
    pred = pred.clamp(-3.0, 3.0)
    return (torch.abs(pred - target) * mask).sum() / (mask.sum() + 1e-9)


class DenseGeneral(nn.Module):
    def __init__(self, features_in, heads, head_dim):
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        self.kernel = nn.Linear(features_in, heads * head_dim)

    def forward(self, x):
        b, n, _ = x.shape
        return self.kernel(x).view(b, n, self.heads, self.head_dim)
