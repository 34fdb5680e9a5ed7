import torch
import torch.nn as nn


def attend(q, k, v):
    w = torch.softmax(torch.matmul(q, k.transpose(-2, -1)), dim=-1)
    return torch.matmul(w, v)


def masked_softmax(logits, keep):
    logits = logits.masked_fill(~keep, float("-inf"))
    return torch.softmax(logits, dim=-1)


class AdditiveAttention(nn.Module):
    def __init__(self, d, query_dim):
        super().__init__()
        self.proj = nn.Linear(d, query_dim)
        self.query = nn.Parameter(torch.empty(query_dim).uniform_(-0.1, 0.1))

    def forward(self, h, keep):
        e = torch.tanh(self.proj(h)) @ self.query
        e = e.masked_fill(~keep, -1e4)
        alpha = torch.softmax(e, dim=-1)
        return (alpha.unsqueeze(-1) * h).sum(1)
