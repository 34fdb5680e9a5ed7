import torch


def attend(q, k, v, attn_bias):
    scores = q @ k.transpose(-2, -1) + attn_bias
    weights = torch.softmax(scores, dim=-1)
    return weights @ v


def causal_bias(n, device):
    keep = torch.tril(torch.ones(n, n, dtype=torch.bool, device=device))
    bias = torch.zeros(n, n, device=device)
    return bias.masked_fill(~keep, float("-inf"))
