import torch.nn.functional as F


def bpr_loss(pos, neg, valid):
    pos, neg = pos.clamp(-20.0, 20.0), neg.clamp(-20.0, 20.0)
    per_item = -F.logsigmoid(pos - neg)
    return (per_item * valid).sum() / valid.sum()


def bce_probs_loss(pos_p, neg_p, valid, eps=1e-7):
    pos_p, neg_p = pos_p.clamp(eps, 1 - eps), neg_p.clamp(eps, 1 - eps)
    per_item = -(pos_p.log() + (1 - neg_p).log())
    return (per_item * valid).sum() / valid.sum()
