import torch
import torch.nn.functional as F


def in_batch_contrastive(scores, labels=None):
    """Symmetric InfoNCE over an in-batch similarity matrix."""
    if labels is None:
        labels = torch.arange(scores.size(0), device=scores.device)
    scores = scores.nan_to_num(nan=0.0, posinf=1e4, neginf=-1e4)
    return 0.5 * (F.cross_entropy(scores, labels) + F.cross_entropy(scores.T, labels))


def mrr(scores):
    scores = torch.nan_to_num(scores)
    target = scores.diag().unsqueeze(1)
    ranks = (scores > target).sum(1) + 1
    return (1.0 / ranks.float()).mean()
