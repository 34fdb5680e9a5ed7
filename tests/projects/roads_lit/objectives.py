import torch
import torch.nn.functional as F


def soft_dice(logits, target, eps=1.0):
    p = torch.sigmoid(logits)
    inter = (p * target).sum((1, 2))
    return 1 - ((2 * inter + eps) / (p.sum((1, 2)) + target.sum((1, 2)) + eps)).mean()


def multi_task_loss(seg_logits, orient_logits, road, orient, w_orient=0.5):
    seg_logits = seg_logits.clamp(-15.0, 15.0)
    seg = F.binary_cross_entropy_with_logits(seg_logits, road) + soft_dice(seg_logits, road)
    ori = F.cross_entropy(orient_logits, orient, ignore_index=255)
    return seg + w_orient * ori, {"seg": seg.detach(), "orient": ori.detach()}


@torch.no_grad()
def road_iou(logits, road):
    pred = torch.nan_to_num(logits).sigmoid() > 0.5
    inter = (pred & road.bool()).sum()
    return inter / ((pred | road.bool()).sum() + 1)
