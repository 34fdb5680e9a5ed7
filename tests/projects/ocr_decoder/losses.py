import torch
import torch.nn.functional as F


def seq_ce_loss(logits, targets, pad_id):
    logits = torch.nan_to_num(logits, nan=0.0, posinf=1e4, neginf=-1e4)
    return F.cross_entropy(
        logits.reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=pad_id
    )


def char_error_rate(logits, targets, pad_id):
    pred = torch.nan_to_num(logits).argmax(-1)
    keep = targets != pad_id
    return ((pred != targets) & keep).sum().item() / max(keep.sum().item(), 1)
