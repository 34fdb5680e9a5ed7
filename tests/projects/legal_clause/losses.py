import torch
import torch.nn.functional as F


def info_nce(scores, labels=None):
    scores = scores.masked_fill(torch.isnan(scores), 0.0)
    if labels is None:
        labels = torch.arange(scores.shape[0], device=scores.device)
    return 0.5 * (F.cross_entropy(scores, labels) + F.cross_entropy(scores.T, labels))


@torch.no_grad()
def recall_at_k(scores, k=5):
    scores = torch.nan_to_num(scores, nan=-1e4)
    top = scores.topk(k, dim=-1).indices
    gold = torch.arange(scores.shape[0], device=scores.device)[:, None]
    return (top == gold).any(-1).float().mean().item()
