import torch
import torch.nn.functional as F


def masked_mean(x, mask):
    mask = mask.to(x.dtype)
    return (x * mask).sum() / mask.sum().clamp(min=1.0)


def codebook_ce(logits, targets, pad_mask, codebook_weights=None):
    """logits [B, Q, T, V], targets [B, Q, T]: one cross-entropy per codebook."""
    logits = torch.nan_to_num(logits, nan=0.0, posinf=1e4, neginf=-1e4)
    b, q, t, v = logits.shape
    ce = F.cross_entropy(logits.reshape(-1, v), targets.reshape(-1), reduction="none").view(b, q, t)
    if codebook_weights is None:
        codebook_weights = torch.ones(q, device=logits.device)
    per_q = torch.stack([masked_mean(ce[:, i], pad_mask) for i in range(q)])
    return (per_q * codebook_weights).sum() / codebook_weights.sum()
