import math

import torch
import torch.nn.functional as F


def dense(params, x):
    return x @ params["kernel"] + params["bias"]


def dot_product_attention(query, key, value, mask=None):
    logits = torch.einsum("bqhd,bkhd->bhqk", query, key)
    if mask is not None:
        big_neg = torch.finfo(logits.dtype).min
        logits = torch.where(mask, logits, big_neg)
    weights = F.softmax(logits, dim=-1)
    return torch.einsum("bhqk,bkhd->bqhd", weights, value)


def raw_attention(query, key, value):
    logits = torch.einsum("bqhd,bkhd->bhqk", query, key)
    weights = F.softmax(logits, dim=-1)
    return torch.einsum("bhqk,bkhd->bqhd", weights, value)


def multi_head(params, x, num_heads, mask=None):
    b, n, d = x.shape
    hd = d // num_heads
    q = dense(params["q"], x).reshape(b, n, num_heads, hd)
    k = dense(params["k"], x).reshape(b, n, num_heads, hd)
    v = dense(params["v"], x).reshape(b, n, num_heads, hd)
    out = dot_product_attention(q / math.sqrt(hd), k, v, mask)
    return dense(params["o"], out.reshape(b, n, d))


def multi_head_noscale(params, x, num_heads):
    b, n, d = x.shape
    hd = d // num_heads
    q = dense(params["q"], x).reshape(b, n, num_heads, hd)
    k = dense(params["k"], x).reshape(b, n, num_heads, hd)
    v = dense(params["v"], x).reshape(b, n, num_heads, hd)
    return dense(params["o"], raw_attention(q, k, v).reshape(b, n, d))


def mixer_attention(params, x):
    s = torch.einsum("bnd,bmd->bnm", x @ params["wq"], x @ params["wk"])
    s = s - s.amax(dim=-1, keepdim=True)
    p = torch.exp(s) / torch.exp(s).sum(-1, keepdim=True)
    a = torch.softmax(s, dim=-1)
    return (a + p) @ x
