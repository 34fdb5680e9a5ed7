import torch
import torch.nn.functional as F


def seq_loss(logits, labels, ignore_index=-100):
    logits = torch.nan_to_num(logits, nan=0.0, posinf=1e4, neginf=-1e4)
    return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=ignore_index)


def copy_loss(copy_probs, copy_target, copy_mask):
    logp = copy_probs.clamp(min=1e-8).log()
    nll = -(logp.gather(-1, copy_target.unsqueeze(-1)).squeeze(-1))
    return (nll * copy_mask).sum() / copy_mask.sum().clamp(min=1)


def fill_unmatched(scores, matched):
    return scores.masked_fill(~matched[:, None, :], float("-inf"))
