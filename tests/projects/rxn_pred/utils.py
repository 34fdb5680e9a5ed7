import math

import torch

PAD, BOS, EOS = 0, 1, 2


def masked_logits(logits, src_pad):
    return logits.masked_fill(src_pad[:, None, None, :], float("-inf"))


def noam(step, d_model, warmup=8000):
    step = max(step, 1)
    return d_model**-0.5 * min(step**-0.5, step * warmup**-1.5)


def token_accuracy(logits, target):
    pred = logits.argmax(-1)
    keep = target != PAD
    return ((pred == target) & keep).sum().float() / keep.sum().clamp(min=1)


def sinusoid(n, d):
    pos = torch.arange(n)[:, None]
    div = torch.exp(torch.arange(0, d, 2) * (-math.log(10000.0) / d))
    pe = torch.zeros(n, d)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * div), torch.cos(pos * div)
    return pe
