import torch


def multihead(q, k, v, key_mask=None):
    logits = torch.einsum("b h i d, b h j d -> b h i j", q, k)
    if key_mask is not None:
        logits = logits.masked_fill(~key_mask[:, None, None, :], float("-inf"))
    weights = logits.softmax(dim=-1)
    if key_mask is not None:
        weights = weights.masked_fill(key_mask.logical_not()[:, None, None, :], 0.0)
    return torch.einsum("b h i j, b h j d -> b h i d", weights, v)


def padded_pool(scores, lengths):
    idx = torch.arange(scores.size(-1), device=scores.device)
    pad = idx[None, :] >= lengths[:, None]
    scores = scores.masked_fill(pad, -1e4)
    return scores.softmax(-1)
