import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .ops import finite_masked_logits, flatten_support, masked_logits


class CrossTransformerHead(nn.Module):
    def __init__(self, dim, dk=128, dv=128):
        super().__init__()
        self.dk = dk
        self.key = nn.Conv2d(dim, dk, 1, bias=False)
        self.value = nn.Conv2d(dim, dv, 1, bias=False)

    def forward(self, query, support, support_keep, way_keep):
        c, s = support.shape[:2]
        q = self.key(query).flatten(2).transpose(1, 2)
        qv = self.value(query).flatten(2).transpose(1, 2)
        k = flatten_support(self.key(support.flatten(0, 1)).unflatten(0, (c, s)))
        v = flatten_support(self.value(support.flatten(0, 1)).unflatten(0, (c, s)))
        keep = support_keep.repeat_interleave(k.shape[1] // s, dim=1)
        logits = torch.einsum("qid,cjd->qcij", q, k) / math.sqrt(self.dk)
        attn = masked_logits(logits, keep[None, :, None, :]).softmax(dim=-1)
        protos = torch.einsum("qcij,cjd->qcid", attn, v)
        dist = ((protos - qv[:, None]) ** 2).sum(-1).mean(-1)
        return finite_masked_logits(-dist, way_keep[None, :])


class SupportContext(nn.Module):
    def __init__(self, dim, heads=4):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(10.0)))

    def forward(self, tokens, keep):
        b, n, d = tokens.shape
        q, k, v = self.qkv(tokens).view(b, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        scale = self.logit_scale.exp().clamp(max=100.0)
        sim = scale * (F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1))
        sim = finite_masked_logits(sim, keep[:, None, None, :])
        out = sim.softmax(dim=-1) @ v
        return tokens + out.transpose(1, 2).reshape(b, n, d)


class ProtoHead(nn.Module):
    def forward(self, query_emb, support_emb, way_keep):
        protos = support_emb.mean(1)
        return F.log_softmax(-(torch.cdist(query_emb, protos) ** 2), dim=-1)
