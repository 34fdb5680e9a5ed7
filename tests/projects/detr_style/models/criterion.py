import torch
import torch.nn as nn
import torch.nn.functional as F


def sigmoid_focal_loss(inputs, targets, num_boxes, alpha=0.25, gamma=2.0):
    inputs = inputs.clamp(-20.0, 20.0)
    prob = inputs.sigmoid()
    ce = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = prob * targets + (1 - prob) * (1 - targets)
    loss = ce * ((1 - p_t) ** gamma)
    alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
    return (alpha_t * loss).mean(1).sum() / num_boxes


def giou_like(boxes_a, boxes_b):
    lt = torch.max(boxes_a[:, :2], boxes_b[:, :2])
    rb = torch.min(boxes_a[:, 2:], boxes_b[:, 2:])
    wh = (rb - lt).clamp(min=0)
    return wh[:, 0] * wh[:, 1]


class SetCriterion(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.num_classes = num_classes

    def forward(self, outputs, targets, indices):
        logits = outputs["pred_logits"]
        onehot = torch.zeros_like(logits)
        for b, (src, tgt) in enumerate(indices):
            onehot[b, src, targets[b]["labels"][tgt]] = 1.0
        loss_ce = sigmoid_focal_loss(logits, onehot, max(len(indices), 1))
        boxes = outputs["pred_boxes"].clamp(0.0, 1.0)
        tboxes = torch.cat([t["boxes"][j] for t, (_, j) in zip(targets, indices)])
        sboxes = torch.cat([boxes[b, i] for b, (i, _) in enumerate(indices)])
        loss_bbox = F.l1_loss(sboxes, tboxes) + (1 - giou_like(sboxes, tboxes)).mean()
        return loss_ce + loss_bbox
