import torch
import torch.nn.functional as F


def affinity(q, k):
    return torch.einsum("bnd,bmd->bnm", q, k)


def mask_points(scores, pad):
    return scores.masked_fill(pad, float("-inf"))


def smoothed_ce(logits, target, eps=0.1):
    logits = logits.nan_to_num(nan=0.0)
    logp = F.log_softmax(logits, dim=-1)
    nll = -logp.gather(-1, target[:, None]).squeeze(-1)
    return ((1 - eps) * nll - eps * logp.mean(-1)).mean()
