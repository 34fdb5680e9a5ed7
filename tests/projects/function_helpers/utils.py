import torch
import torch.nn.functional as F


def masked_softmax(x, mask, dim=-1):
    x = x.masked_fill(~mask, float("-inf"))
    return F.softmax(x, dim=dim)


def masked_softmax_safe(x, mask, dim=-1):
    x = x.masked_fill(~mask, float("-inf"))
    return torch.nan_to_num(F.softmax(x, dim=dim), nan=0.0)


def self_attention(x, wq, wk, wv):
    q, k, v = x @ wq, x @ wk, x @ wv
    attn = (q @ k.transpose(-1, -2)).softmax(-1)
    return attn @ v


def optimizer_step(optimizer, model, clip):
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    optimizer.zero_grad()
