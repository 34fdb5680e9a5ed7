import torch


def soft_rank(scores, tau=1.0):
    scores = torch.nan_to_num(scores, nan=0.0, posinf=1e4, neginf=-1e4)
    pairwise = (scores.unsqueeze(-1) - scores.unsqueeze(-2)) / tau
    return 1.0 + torch.sigmoid(pairwise).sum(-1) - 0.5


def listmle(scores, relevance, mask):
    order = relevance.masked_fill(~mask, float("-inf")).argsort(dim=-1, descending=True)
    s = scores.gather(-1, order).masked_fill(~mask.gather(-1, order), -1e4)
    return -(s - s.flip(-1).logcumsumexp(-1).flip(-1))[mask].mean()


def sanitize(x):
    return torch.nan_to_num(x, nan=0.0)
