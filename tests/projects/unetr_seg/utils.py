import logging

import torch
import torch.nn.functional as F

log = logging.getLogger("unetr")


def clip_and_step(model, optimizer, scaler, max_norm):
    scaler.unscale_(optimizer)
    total = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad(set_to_none=True)
    return total.item()


def warmup_cosine(optimizer, step, warmup, total, base_lr):
    if step < warmup:
        lr = base_lr * (step + 1) / warmup
    else:
        lr = (
            0.5
            * base_lr
            * (1 + torch.cos(torch.tensor((step - warmup) / (total - warmup) * 3.14159)).item())
        )
    for g in optimizer.param_groups:
        g["lr"] = lr
    return lr


def dice_ce_loss(logits, target, smooth=1e-5):
    logits = torch.nan_to_num(logits, nan=0.0, posinf=1e4, neginf=-1e4)
    ce = F.cross_entropy(logits, target)
    probs = logits.softmax(dim=1).clamp(1e-6, 1.0 - 1e-6)
    onehot = F.one_hot(target, logits.shape[1]).permute(0, 4, 1, 2, 3).float()
    inter = (probs * onehot).sum(dim=(2, 3, 4))
    denom = probs.sum(dim=(2, 3, 4)) + onehot.sum(dim=(2, 3, 4))
    dice = 1.0 - (2 * inter + smooth) / (denom + smooth)
    return ce + dice.mean()


@torch.no_grad()
def dice_score(logits, target):
    pred = torch.nan_to_num(logits).argmax(1)
    scores = []
    for c in range(1, logits.shape[1]):
        p, t = pred == c, target == c
        scores.append((2 * (p & t).sum() / (p.sum() + t.sum()).clamp(min=1)).item())
    return sum(scores) / len(scores)
