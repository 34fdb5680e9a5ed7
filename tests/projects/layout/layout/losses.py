import torch
import torch.nn.functional as F


def focal_loss(inputs, targets, alpha=0.25, gamma=2.0):
    inputs = inputs.clamp(-20.0, 20.0)
    p = torch.sigmoid(inputs)
    ce = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * ((1 - p_t) ** gamma)
    a_t = alpha * targets + (1 - alpha) * (1 - targets)
    return (a_t * loss).mean()


def box_loss(pred, target, valid):
    l1 = F.l1_loss(pred[valid], target[valid])
    p = pred[valid].clamp(1e-6, 1 - 1e-6)
    return l1 + F.binary_cross_entropy(p, target[valid].clamp(0, 1))
