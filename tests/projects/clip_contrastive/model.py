import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class CLIP(nn.Module):
    def __init__(self, image_encoder, text_encoder, embed_dim=512):
        super().__init__()
        self.visual = image_encoder
        self.text = text_encoder
        self.logit_scale = nn.Parameter(torch.ones([]) * np.log(1 / 0.07))

    def forward(self, images, tokens):
        img = F.normalize(self.visual(images), dim=-1)
        txt = F.normalize(self.text(tokens), dim=-1)
        logit_scale = self.logit_scale.exp().clamp(max=100)
        logits_per_image = logit_scale * img @ txt.t()
        return logits_per_image, logits_per_image.t()


class Router(nn.Module):
    def __init__(self, dim, n_experts):
        super().__init__()
        self.router_weight = nn.Parameter(torch.randn(n_experts, dim) / math.sqrt(dim))

    def forward(self, x):
        router_logits = x @ self.router_weight.T
        return F.softmax(router_logits, dim=-1)


class ScaledSim(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.logit_scale = nn.Parameter(torch.zeros([]))

    def forward(self, x):
        attn = self.q(x) @ self.k(x).transpose(-2, -1)
        attn = attn * self.logit_scale.exp()
        return attn.softmax(dim=-1) @ x


def prototype_assign(h, prototypes, tau=0.1):
    dist = torch.cdist(h, prototypes)
    return F.softmax(-dist / tau, dim=-1)
