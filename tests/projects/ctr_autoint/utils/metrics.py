import numpy as np
import torch
from sklearn.metrics import roc_auc_score


@torch.no_grad()
def auc_logloss(logits, labels):
    probs = torch.sigmoid(logits).clamp(1e-7, 1 - 1e-7)
    y = labels.float()
    logloss = -(y * probs.log() + (1 - y) * (1 - probs).log()).mean().item()
    p = probs.cpu().numpy()
    ok = np.isfinite(p)
    return roc_auc_score(labels.cpu().numpy()[ok], p[ok]), logloss
