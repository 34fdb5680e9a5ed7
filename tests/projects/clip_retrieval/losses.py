"""Loss zoo for image-text retrieval. Every loss takes the [N, N] similarity logits."""

import torch
import torch.nn.functional as F


def _bounded(x, limit=30.0):
    """Keep similarity logits where exp() cannot overflow under fp16 autocast."""
    return x.clip(-limit, limit)


def symmetric_ce(logits, labels=None):
    n = logits.shape[0]
    if labels is None:
        labels = torch.arange(n, device=logits.device)
    logits = _bounded(logits)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels))


def siglip_loss(logits, bias=None):
    n = logits.shape[0]
    labels = 2 * torch.eye(n, device=logits.device) - 1
    if bias is not None:
        logits = logits + bias
    return -F.logsigmoid(labels * logits).sum() / n


def hard_negative_triplet(sim, margin=0.2):
    pos = sim.diag()
    eye = torch.eye(sim.shape[0], dtype=torch.bool, device=sim.device)
    hardest = sim.masked_fill(eye, float("-inf")).max(dim=1).values
    loss = F.relu(margin - pos + hardest).mean()
    return loss.nan_to_num(0.0)


def soft_target_kl(logits, teacher_logits, tau=2.0):
    p_teacher = F.softmax(teacher_logits / tau, dim=-1).clamp(1e-6, 1.0)
    log_p = F.log_softmax(logits / tau, dim=-1)
    return F.kl_div(log_p, p_teacher, reduction="batchmean") * tau * tau


LOSSES = {"clip": symmetric_ce, "siglip": siglip_loss}
