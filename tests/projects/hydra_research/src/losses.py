import torch
import torch.nn as nn


def neural_sort(s, tau=1.0):
    s = s.nan_to_num(0.0)
    n = s.size(-1)
    a = (s.unsqueeze(-1) - s.unsqueeze(-2)).abs()
    b = a.sum(-1, keepdim=True)
    scaling = n + 1 - 2 * (torch.arange(n, device=s.device) + 1)
    c = s.unsqueeze(-1) * scaling
    return torch.softmax(((c - b).transpose(-1, -2)) / tau, dim=-1)


class RankNetLoss(nn.Module):
    def __init__(self, sigma=1.0):
        super().__init__()
        self.sigma = sigma

    def forward(self, logits, targets):
        logits = logits.clamp(-20, 20)
        diff = logits[:, :, None] - logits[:, None, :]
        label = (targets[:, :, None] > targets[:, None, :]).float()
        return nn.functional.binary_cross_entropy_with_logits(self.sigma * diff, label)
