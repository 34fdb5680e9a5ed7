import torch


def clip_gradients(model, max_norm):
    total = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    return total.item()


def count_params(model):
    return sum(p.numel() for p in model.parameters())
