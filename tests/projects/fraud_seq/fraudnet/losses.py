import torch
import torch.nn.functional as F


def focal_loss(logits, target, alpha=0.25, gamma=2.0):
    p = torch.sigmoid(logits).clamp(1e-6, 1 - 1e-6)
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p_t = p * target + (1 - p) * (1 - target)
    a_t = alpha * target + (1 - alpha) * (1 - target)
    loss = (a_t * (1 - p_t) ** gamma * ce).mean()
    return torch.nan_to_num(loss, nan=0.0, posinf=0.0)
