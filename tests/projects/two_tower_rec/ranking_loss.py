import torch
import torch.nn as nn
import torch.nn.functional as F


def bpr_loss(pos, neg):
    x = torch.clamp(pos.unsqueeze(-1) - neg, -40.0, 40.0)
    return -F.logsigmoid(x).mean()


class ListwiseLoss(nn.Module):
    def forward(self, scores, labels):
        scores = scores.clamp_(-30.0, 30.0)
        return -(F.log_softmax(scores, -1) * labels).sum(-1).mean()


class SampledSoftmaxLoss(nn.Module):
    def forward(self, logits, labels):
        probs = logits.softmax(-1).clamp(1e-7, 1.0)
        return F.nll_loss(probs.log(), labels)
