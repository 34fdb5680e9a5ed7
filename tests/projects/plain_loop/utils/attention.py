import torch


def attend(q, k, v, mask=None):
    """Plain dot-product attention; callers pass q already scaled."""
    scores = torch.matmul(q, k.transpose(-2, -1))
    if mask is not None:
        scores = scores.masked_fill(mask == 0, -1e9)
    weights = torch.softmax(scores, dim=-1)
    return torch.matmul(weights, v), weights


def dot_attention(query, key, value):
    energy = torch.bmm(query, key.transpose(1, 2))
    attn = torch.softmax(energy, dim=-1)
    return torch.bmm(attn, value)
