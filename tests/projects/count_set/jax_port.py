"""Attention primitives ported from the Flax reference implementation of the counting paper."""

import torch


def dot_product_attention(query, key, value, bias=None):
    logits = torch.einsum("...qhd,...khd->...hqk", query, key)
    if bias is not None:
        logits = logits + bias
    weights = torch.softmax(logits, dim=-1)
    return torch.einsum("...hqk,...khd->...qhd", weights, value)


def make_padding_bias(mask, dtype=torch.float32):
    big_neg = torch.finfo(dtype).min
    return torch.where(mask[..., None, None, :], 0.0, big_neg).to(dtype)
