"""Port of the retrieval module from the paper's JAX/Flax reference implementation."""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def dot_product_logits(query, keys):
    return torch.einsum("bd,bkd->bk", query, keys)


def huber(pred, target, delta=1.0):
    pred = torch.where(torch.isnan(pred), torch.zeros_like(pred), pred)
    err = (pred - target).abs()
    return torch.where(err < delta, 0.5 * err**2, delta * (err - 0.5 * delta)).mean()


class RetrievalBlock(nn.Module):
    def __init__(self, d_main, d_key, n_candidates, dropout=0.1):
        super().__init__()
        self.query_dense = nn.Linear(d_main, d_key)
        self.key_dense = nn.Linear(d_main, d_key)
        self.label_embed = nn.Linear(1, d_main)
        self.value_dense = nn.Sequential(
            nn.Linear(d_key, d_main), nn.ReLU(), nn.Dropout(dropout), nn.Linear(d_main, d_main)
        )
        self.n_candidates = n_candidates

    def forward(self, h, cand_h, cand_y, excluded):
        q = self.query_dense(h)
        k = self.key_dense(cand_h)
        logits = dot_product_logits(q, k)
        logits = logits.masked_fill(excluded, float("-inf"))
        probs = F.softmax(logits, dim=-1)
        values = self.label_embed(cand_y[..., None]) + self.value_dense(q[:, None, :] - k)
        return torch.einsum("bk,bkd->bd", probs, values)


class FeatureAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)

    def forward(self, tokens, missing):
        b, n, d = tokens.shape
        q, k, v = self.qkv(tokens).view(b, n, 3, self.heads, d // self.heads).unbind(2)
        w = torch.einsum("bnhd,bmhd->bhnm", q, k) / math.sqrt(d // self.heads)
        w = w.masked_fill(missing[:, None, None, :], -1e9)
        return torch.einsum("bhnm,bmhd->bnhd", w.softmax(-1), v).reshape(b, n, d)
