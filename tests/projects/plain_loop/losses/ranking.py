import torch
import torch.nn.functional as F


def lambda_surrogate(s, rel, sigma=1.0):
    s = s.clamp(min=-30.0, max=30.0)
    s_diff = s[:, :, None] - s[:, None, :]
    rel_diff = (rel[:, :, None] - rel[:, None, :]).sign()
    return F.softplus(-sigma * rel_diff * s_diff).mean()


def pairwise_hinge(scores, labels, margin=1.0):
    scores = torch.nan_to_num(scores)
    diff = scores[:, :, None] - scores[:, None, :]
    better = labels[:, :, None] > labels[:, None, :]
    return F.relu(margin - diff)[better].mean()


def bce_with_probs(probs, targets, eps=1e-7):
    probs = probs.clamp(eps, 1 - eps)
    return -(targets * probs.log() + (1 - targets) * (1 - probs).log()).mean()
