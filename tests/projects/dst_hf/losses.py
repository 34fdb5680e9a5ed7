import torch
import torch.nn.functional as F


def slot_gate_loss(gate_logits, gate_labels, weight=None):
    gate_logits = torch.nan_to_num(gate_logits, nan=0.0, posinf=1e4, neginf=-1e4)
    return F.cross_entropy(gate_logits.flatten(0, 1), gate_labels.flatten(), weight=weight)


def value_span_loss(start_logits, end_logits, starts, ends, ignore_index=-100):
    ls = F.cross_entropy(start_logits, starts, ignore_index=ignore_index)
    le = F.cross_entropy(end_logits, ends, ignore_index=ignore_index)
    return 0.5 * (ls + le)


def confidence_penalty(gate_logits, beta=0.1):
    probs = gate_logits.softmax(-1).clamp(min=1e-8)
    return beta * (probs * probs.log()).sum(-1).mean()
