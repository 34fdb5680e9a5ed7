import torch


def finite_or_zero(loss):
    """Skip bad batches without crashing the run."""
    return torch.nan_to_num(loss, nan=0.0, posinf=0.0)


def clean_batch(x):
    return torch.nan_to_num(x, nan=0.0)
