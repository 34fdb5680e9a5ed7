import torch
import torch.nn.functional as F


def symlog(x):
    return torch.sign(x) * torch.log1p(x.abs())


def symlog_mse(pred, target):
    pred = torch.nan_to_num(pred, nan=0.0, posinf=1e4, neginf=-1e4)
    return F.mse_loss(pred, symlog(target))


def kl_balance(post_logits, prior_logits, alpha=0.8, free_nats=1.0):
    post = post_logits.softmax(-1)
    prior = prior_logits.softmax(-1)
    log_post = post.clamp(min=1e-8).log()
    log_prior = prior.clamp(min=1e-8).log()
    lhs = (post.detach() * (log_post.detach() - log_prior)).sum(-1)
    rhs = (post * (log_post - log_prior.detach())).sum(-1)
    kl = alpha * lhs + (1 - alpha) * rhs
    return torch.maximum(kl, torch.full_like(kl, free_nats)).mean()
