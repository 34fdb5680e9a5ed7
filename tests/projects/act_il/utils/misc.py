import torch


class SmoothedValue:
    def __init__(self):
        self.total, self.count = 0.0, 0

    def update(self, v):
        self.total += float(v)
        self.count += 1

    @property
    def avg(self):
        return self.total / max(self.count, 1)


def clip_grads(params, max_norm):
    return torch.nn.utils.clip_grad_norm_(params, max_norm)


def attend(q, k, v, pad):
    s = (q @ k.transpose(-2, -1)) / q.shape[-1] ** 0.5
    s = s.masked_fill(pad[:, None, None, :], float("-inf"))
    return s.softmax(dim=-1) @ v


def kl_divergence(mu, logvar):
    return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp())).sum(1).mean()
