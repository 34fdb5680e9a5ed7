import torch
import torch.nn.functional as F
from torch import nn


def mask_residues(logits, valid):
    return logits.masked_fill(~valid, float("-inf"))


class GOHead(nn.Module):
    def __init__(self, in_features, hidden, n_terms, dropout=0.1):
        super().__init__()
        self.proj = nn.Sequential(nn.Linear(in_features, hidden), nn.GELU(), nn.Dropout(dropout))
        self.att = nn.Linear(hidden, 1)
        self.q = nn.Linear(hidden, hidden)
        self.k = nn.Linear(hidden, hidden)
        self.scale = hidden**-0.5
        self.out = nn.Linear(hidden, n_terms)


def build_head(cfg):
    return GOHead(cfg.in_features, cfg.hidden, cfg.n_terms, cfg.dropout)


def go_loss(logits, targets, pos_weight=None):
    logits = logits.clamp(-20.0, 20.0)
    return F.binary_cross_entropy_with_logits(logits, targets, pos_weight=pos_weight)


@torch.no_grad()
def fmax(probs, targets, thresholds=torch.linspace(0.05, 0.95, 19)):  # noqa: B008
    probs = probs.clamp(1e-7, 1 - 1e-7)
    best = 0.0
    for t in thresholds:
        pred = probs >= t
        tp = (pred & targets.bool()).sum(-1).float()
        has = pred.sum(-1) > 0
        prec = (tp[has] / pred[has].sum(-1)).mean() if has.any() else torch.tensor(0.0)
        rec = (tp / targets.sum(-1).clamp(min=1)).mean()
        best = max(best, (2 * prec * rec / (prec + rec + 1e-8)).item())
    return best
