import torch
import torch.nn.functional as F


def density_loss(pred, gt, max_density=4.0):
    pred = torch.clamp(pred, -max_density, max_density)
    return F.mse_loss(pred, gt, reduction="sum") / pred.shape[0]


def count_loss(pred, gt):
    pc = pred.clamp(min=0).sum(dim=(1, 2, 3))
    gc = gt.sum(dim=(1, 2, 3))
    return F.l1_loss(pc, gc)
