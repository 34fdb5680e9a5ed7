import torch


def masked_logits(logits, keep):
    return logits.masked_fill(~keep, float("-inf"))


def finite_masked_logits(logits, keep):
    return logits.masked_fill(~keep, torch.finfo(logits.dtype).min)


def flatten_support(x):
    c, s, d, h, w = x.shape
    return x.permute(0, 1, 3, 4, 2).reshape(c, s * h * w, d)
