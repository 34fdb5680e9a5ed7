import torch


def clip_and_measure(model, max_norm):
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=max_norm)
    return float(norm)
