import torch


def dispatch_clip_grad(parameters, value, mode="norm"):
    if mode == "norm":
        return torch.nn.utils.clip_grad_norm_(parameters, value)
    torch.nn.utils.clip_grad_value_(parameters, value)
    return None


def clip_grad_value_only(parameters, value):
    torch.nn.utils.clip_grad_value_(parameters, value)
