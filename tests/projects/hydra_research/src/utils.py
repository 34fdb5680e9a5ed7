import torch


def clip_grads(params, max_norm, norm_type=2.0):
    params = [p for p in params if p.grad is not None]
    norm = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=norm_type)
    return norm


def seed_everything(seed):
    torch.manual_seed(seed)
