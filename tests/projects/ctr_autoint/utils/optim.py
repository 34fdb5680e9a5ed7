import math

import torch


def unscale_and_clip(scaler, optimizer, params, max_norm):
    scaler.unscale_(optimizer)
    return torch.nn.utils.clip_grad_norm_(params, max_norm)


def warmup_cosine(optimizer, warmup, total):
    def f(step):
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, f)
