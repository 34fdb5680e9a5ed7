import torch
import torch.nn.functional as F


def smoothed_ce(logits, target, eps=0.1, ignore_index=0):
    logits = torch.nan_to_num(logits, nan=0.0, posinf=30.0, neginf=-30.0)
    lprobs = F.log_softmax(logits, dim=-1)
    nll = -lprobs.gather(-1, target.unsqueeze(-1)).squeeze(-1)
    smooth = -lprobs.mean(dim=-1)
    keep = target != ignore_index
    loss = (1 - eps) * nll + eps * smooth
    return loss[keep].mean()


def token_accuracy(logits, target, ignore_index=0):
    with torch.no_grad():
        probs = logits.softmax(-1).clamp(min=1e-8)
        keep = target != ignore_index
        return (probs.argmax(-1)[keep] == target[keep]).float().mean()
