import torch
import torch.nn.functional as F


def soft_rank(s, tau=1.0):
    s = torch.clamp(s, -15.0, 15.0)
    pairwise = (s.unsqueeze(-1) - s.unsqueeze(-2)) / tau
    return 1.0 + torch.sigmoid(-pairwise).sum(-1) - 0.5


def listnet_loss(scores, labels, mask):
    scores = scores.masked_fill(~mask, -1e4)
    target = labels.float().masked_fill(~mask, -1e4).softmax(-1)
    return -(target * F.log_softmax(scores, -1)).sum(-1).mean()


def approx_ndcg_targets(labels, mask):
    gains = 2.0 ** labels.clamp(0, 4).float() - 1.0
    return gains * mask
