import torch
import torch.nn.functional as F


def focal_loss(logits, target, gamma=2.0):
    log_p = F.log_softmax(logits, dim=-1)
    p = log_p.exp().clamp(min=1e-6)
    logp_t = log_p.gather(1, target[:, None]).squeeze(1)
    p_t = p.gather(1, target[:, None]).squeeze(1)
    loss = -((1 - p_t) ** gamma) * logp_t
    loss = torch.where(torch.isfinite(loss), loss, torch.zeros_like(loss))
    return loss.mean()
