import torch
import torch.nn.functional as F


def sigmoid_focal(logits, targets, alpha=0.25, gamma=2.0):
    logits = logits.clamp(-12.0, 12.0)
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = (p * targets + (1 - p) * (1 - targets)).clamp(1e-6, 1 - 1e-6)
    w = alpha * targets + (1 - alpha) * (1 - targets)
    return (w * ce * (1 - p_t) ** gamma).sum() / targets.sum().clamp(min=1.0)


def detection_loss(outputs, targets, box_weight=2.0):
    cls = sigmoid_focal(outputs["cls_logits"], targets["heatmap"])
    pos = targets["heatmap"].amax(-1) > 0.5
    box = F.smooth_l1_loss(outputs["boxes"][pos], targets["boxes"][pos])
    return cls + box_weight * box
