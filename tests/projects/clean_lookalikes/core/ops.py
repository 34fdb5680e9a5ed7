import torch
import torch.nn.functional as F


def attend(q, k, v, causal=False):
    s = q @ k.transpose(-2, -1)
    if causal:
        n = s.size(-1)
        future = torch.triu(torch.ones(n, n, dtype=torch.bool, device=s.device), diagonal=1)
        s = s.masked_fill(future, float("-inf"))
    return s.softmax(-1) @ v


def masked_attend(q, k, v, key_mask):
    s = (q @ k.transpose(-2, -1)) / q.shape[-1] ** 0.5
    s = s.masked_fill(~key_mask[:, None, None, :], float("-inf"))
    p = torch.nan_to_num(s.softmax(-1), nan=0.0)
    return p @ v


def clean(x):
    return torch.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)


def soft_rank(scores, tau=0.5):
    scores = torch.nan_to_num(scores)
    return torch.sigmoid((scores[..., :, None] - scores[..., None, :]) / tau).sum(-1)


def angular(a, b):
    cos = F.cosine_similarity(a, b, dim=-1)
    return torch.acos(cos.clamp(-1.0, 1.0)).mean()


def bce_probs(p, y, eps=1e-7):
    p = p.clamp(eps, 1.0 - eps)
    return -(y * p.log() + (1 - y) * (1 - p).log()).mean()


def clip(model, max_norm):
    return torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
