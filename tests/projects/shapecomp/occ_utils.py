import math

import torch
import torch.nn.functional as F


def pad_mask_scores(scores, point_pad):
    """point_pad: [B, N] True where the partial scan has no point (padding)."""
    return scores.masked_fill(point_pad[:, None, :], -math.inf)


def occupancy_loss(logits, occ, pos_weight=1.0):
    logits = logits.clamp(-10.0, 10.0)
    w = torch.where(occ > 0.5, pos_weight, 1.0)
    return F.binary_cross_entropy_with_logits(logits, occ, weight=w)


@torch.no_grad()
def iou(logits, occ, thresh=0.5):
    p = torch.sigmoid(logits).clamp(1e-6, 1 - 1e-6) > thresh
    t = occ > 0.5
    inter = (p & t).sum(-1).float()
    union = (p | t).sum(-1).float()
    return torch.where(union > 0, inter / union, torch.ones_like(union)).mean().item()
