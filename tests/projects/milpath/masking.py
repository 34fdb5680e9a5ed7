import torch


def mask_instances(scores, valid):
    """Hide padded tiles of a bag from the attention pooling."""
    return scores.masked_fill(~valid, float("-inf"))


def pad_bags(bags):
    n = max(b.shape[0] for b in bags)
    out = torch.zeros(len(bags), n, bags[0].shape[-1])
    valid = torch.zeros(len(bags), n, dtype=torch.bool)
    for i, b in enumerate(bags):
        out[i, : b.shape[0]] = b
        valid[i, : b.shape[0]] = True
    return out, valid
