import torch
import torch.nn as nn
import torch.nn.functional as F


def bce_logits_stable(logits, targets, pos_weight=None):
    logits = torch.clamp(logits, -15.0, 15.0)
    return F.binary_cross_entropy_with_logits(logits, targets, pos_weight=pos_weight)


class AsymmetricLoss(nn.Module):
    def __init__(self, gamma_neg=4, gamma_pos=1, clip=0.05, eps=1e-8):
        super().__init__()
        self.gamma_neg, self.gamma_pos, self.clip, self.eps = gamma_neg, gamma_pos, clip, eps

    def forward(self, logits, y):
        xs_pos = torch.sigmoid(logits)
        xs_neg = (1 - xs_pos + self.clip).clamp(max=1)
        los_pos = y * torch.log(xs_pos.clamp(min=self.eps))
        los_neg = (1 - y) * torch.log(xs_neg.clamp(min=self.eps))
        loss = los_pos + los_neg
        pt = xs_pos * y + xs_neg * (1 - y)
        gamma = self.gamma_pos * y + self.gamma_neg * (1 - y)
        loss = loss * torch.pow(1 - pt, gamma)
        return -loss.sum() / logits.size(0)
