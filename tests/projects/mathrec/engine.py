import math

import torch


def clip_gradients(model, max_norm):
    return torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)


def cosine_lr(step, total, base_lr, warmup=1000):
    if step < warmup:
        return base_lr * step / warmup
    return 0.5 * base_lr * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def normalise_strokes(points):
    points = torch.nan_to_num(points, nan=0.0)
    xy = points[..., :2]
    lo, hi = xy.amin(1, keepdim=True), xy.amax(1, keepdim=True)
    points[..., :2] = (xy - lo) / (hi - lo).amax(-1, keepdim=True).clamp(min=1e-6)
    return points
