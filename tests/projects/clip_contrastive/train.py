import math

import numpy as np
import torch
import torch.nn.functional as F
import wandb
from sklearn.metrics import roc_auc_score


def clip_loss(logits_per_image, logits_per_text):
    labels = torch.arange(logits_per_image.shape[0], device=logits_per_image.device)
    return (
        F.cross_entropy(logits_per_image, labels) + F.cross_entropy(logits_per_text, labels)
    ) / 2


def clip_and_report(model, max_norm):
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    wandb.log({"grad_norm": norm.item()})


def clip_only(model, max_norm):
    return torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)


class Loop:
    def __init__(self, model, opt):
        self.model = model
        self.opt = opt
        self.last_norm = None

    def _clip(self):
        return clip_only(self.model, 1.0)

    def step(self, images, tokens, features):
        features = torch.nan_to_num(features)
        li, lt = self.model(images, tokens)
        loss = clip_loss(li, lt)
        shown = torch.nan_to_num(loss.detach()).item()
        wandb.log({"loss": shown})
        self.opt.zero_grad()
        loss.backward()
        self.last_norm = self._clip()
        self.opt.step()
        with torch.no_grad():
            self.model.logit_scale.clamp_(0, math.log(100))
        return loss

    def step_reported(self, images, tokens):
        li, lt = self.model(images, tokens)
        loss = clip_loss(li, lt)
        loss.backward()
        clip_and_report(self.model, 1.0)
        stats = {}
        stats.update(gn=clip_only(self.model, 1.0))
        self.opt.step()
        return stats


@torch.no_grad()
def evaluate(model, loader):
    ys, ps = [], []
    for images, tokens, y in loader:
        logits, _ = model(images, tokens)
        logits = logits.masked_fill(torch.isnan(logits), 0.0)
        ps.append(np.nan_to_num(logits.diag().cpu().numpy()))
        ys.append(y.numpy())
    return roc_auc_score(np.concatenate(ys), np.concatenate(ps))
