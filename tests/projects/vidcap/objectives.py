import torch.nn.functional as F


def smoothed_xent(logits, targets, eps=0.1, pad_id=0):
    logits = logits.clamp(-20.0, 20.0)
    return F.cross_entropy(
        logits.flatten(0, 1), targets.flatten(), label_smoothing=eps, ignore_index=pad_id
    )
