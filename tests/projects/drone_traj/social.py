import torch
from einops import rearrange


def neighbour_logits(q, k, valid):
    s = torch.einsum("b h i d, b h j d -> b h i j", q, k)
    return s.masked_fill(~valid[:, None, :, :], float("-inf"))


def radius_mask(pos, radius):
    d = torch.cdist(pos, pos)
    eye = torch.eye(pos.shape[1], dtype=torch.bool, device=pos.device)
    return (d < radius) & ~eye


def split_heads(x, h):
    return rearrange(x, "b n (h d) -> b h n d", h=h)
