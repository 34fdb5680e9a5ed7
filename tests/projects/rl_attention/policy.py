import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class EntityAttention(nn.Module):
    """Attends from the agent to the visible entities; some frames show none."""

    def __init__(self, dim):
        super().__init__()
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.dim = dim

    def forward(self, agent, entities, visible):
        q = self.q(agent).unsqueeze(1)
        k = self.k(entities)
        scores = torch.matmul(q, k.transpose(1, 2)) / math.sqrt(self.dim)
        scores = scores.masked_fill(~visible.unsqueeze(1), -np.inf)
        w = F.softmax(scores, dim=-1)
        return torch.matmul(w, self.v(entities)).squeeze(1)


class SafeEntityAttention(EntityAttention):
    def forward(self, agent, entities, visible):
        q = self.q(agent).unsqueeze(1)
        k = self.k(entities)
        scores = torch.matmul(q, k.transpose(1, 2)) / math.sqrt(self.dim)
        scores = scores.masked_fill(~visible.unsqueeze(1), float("-inf"))
        w = F.softmax(scores, dim=-1)
        w = w.masked_fill(~visible.unsqueeze(1), 0.0)
        return torch.matmul(w, self.v(entities)).squeeze(1)


class Policy(nn.Module):
    def __init__(self, obs_dim, n_actions, dim=64, safe=False):
        super().__init__()
        self.enc = nn.Linear(obs_dim, dim)
        self.ent = nn.Linear(obs_dim, dim)
        self.attn = SafeEntityAttention(dim) if safe else EntityAttention(dim)
        self.pi = nn.Linear(dim, n_actions)
        self.v = nn.Linear(dim, 1)

    def forward(self, obs, entities, visible, legal):
        h = self.attn(self.enc(obs), self.ent(entities), visible)
        logits = self.pi(h)
        logits = logits.masked_fill(~legal, torch.finfo(logits.dtype).min)
        return logits, self.v(h).squeeze(-1)
