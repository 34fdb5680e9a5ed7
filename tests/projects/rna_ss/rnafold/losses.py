import torch
import torch.nn.functional as F


def pair_bce(logits, target, pair_mask, pos_weight=30.0):
    logits = logits.clamp(-15.0, 15.0)
    loss = F.binary_cross_entropy_with_logits(
        logits, target, pos_weight=torch.tensor(pos_weight, device=logits.device), reduction="none"
    )
    return (loss * pair_mask).sum() / pair_mask.sum()


def soft_f1(logits, target, pair_mask, eps=1e-6):
    p = torch.sigmoid(logits).clamp(eps, 1 - eps) * pair_mask
    tp = (p * target).sum((-1, -2))
    return 1 - (2 * tp / (p.sum((-1, -2)) + target.sum((-1, -2)) + eps)).mean()
