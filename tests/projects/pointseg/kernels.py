"""Neighbourhood kernels for point-cloud attention (pure PyTorch, no custom CUDA)."""

import torch


def knn(query_xyz, key_xyz, k):
    """Indices [B, M, k] of the k nearest key points of each query point."""
    d = torch.cdist(query_xyz, key_xyz)
    return d.topk(k, dim=-1, largest=False).indices


def gather_neighbors(feat, idx):
    """feat [B, N, C], idx [B, M, K] -> [B, M, K, C]."""
    b = idx.shape[0]
    batch = torch.arange(b, device=feat.device).view(b, 1, 1)
    return feat[batch, idx]


def ball_mask(query_xyz, key_xyz, idx, radius):
    """True where the neighbour lies inside the query's ball."""
    nbr = gather_neighbors(key_xyz, idx)
    return (nbr - query_xyz.unsqueeze(2)).norm(dim=-1) <= radius


def neighbor_logits(logits, inside):
    return torch.where(inside, logits, -torch.inf)
