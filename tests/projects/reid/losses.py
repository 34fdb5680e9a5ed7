import math

import torch
import torch.nn.functional as F


def arcface_logits(emb, weight, labels, s=30.0, m=0.5):
    cos = F.linear(F.normalize(emb), F.normalize(weight))
    theta = torch.acos(cos.clamp(-1 + 1e-7, 1 - 1e-7))
    target = torch.cos(theta + m)
    onehot = F.one_hot(labels, cos.shape[1]).bool()
    return s * torch.where(onehot, target, cos)


def bounded_ce(logits, labels, bound=30.0, smoothing=0.1):
    logits = torch.clamp(logits, -bound, bound)
    return F.cross_entropy(logits, labels, label_smoothing=smoothing)


def batch_hard_triplet(emb, labels, margin=0.3):
    d = torch.cdist(emb, emb)
    same = labels[:, None] == labels[None, :]
    hardest_pos = (d * same).max(1).values
    hardest_neg = d.masked_fill(same, math.inf).min(1).values
    return (hardest_pos - hardest_neg + margin).clamp(min=0).mean()
