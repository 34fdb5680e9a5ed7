import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class CodePool(nn.Module):
    """Attention pooling of the diagnosis/procedure codes of one visit."""

    def __init__(self, dim):
        super().__init__()
        self.query = nn.Parameter(torch.randn(dim) / math.sqrt(dim))
        self.key = nn.Linear(dim, dim)

    def forward(self, code_emb, code_mask):
        s = self.key(code_emb) @ self.query / math.sqrt(code_emb.shape[-1])
        s = s.masked_fill(~code_mask, float("-inf"))
        w = torch.softmax(s, dim=-1)
        return (w.unsqueeze(-1) * code_emb).sum(-2)


class VisitEncoder(nn.Module):
    def __init__(self, dim, heads, layers):
        super().__init__()
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.heads = heads
        self.blocks = nn.ModuleList(
            nn.ModuleDict(
                {"qkv": nn.Linear(dim, 3 * dim), "ff": nn.Linear(dim, dim), "ln": nn.LayerNorm(dim)}
            )
            for _ in range(layers)
        )

    def forward(self, visits, visit_mask):
        b, n, d = visits.shape
        x = torch.cat([self.cls.expand(b, -1, -1), visits], 1)
        keep = torch.cat([torch.ones(b, 1, dtype=torch.bool, device=x.device), visit_mask], 1)
        for blk in self.blocks:
            q, k, v = (
                blk["qkv"](blk["ln"](x)).view(b, n + 1, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
            )
            s = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
            s = s.masked_fill(~keep[:, None, None, :], float("-inf"))
            h = (s.softmax(-1) @ v).transpose(1, 2).reshape(b, n + 1, d)
            x = x + blk["ff"](F.gelu(h))
        return x[:, 0]


class VisitTransformer(nn.Module):
    def __init__(self, code_vocab, n_lab_features, n_demo_features, hidden, heads, layers, n_tasks):
        super().__init__()
        self.codes = nn.Embedding(code_vocab, hidden, padding_idx=0)
        self.pool = CodePool(hidden)
        self.labs = nn.Linear(n_lab_features, hidden)
        self.demo = nn.Linear(n_demo_features, hidden)
        self.encoder = VisitEncoder(hidden, heads, layers)
        self.head = nn.Linear(hidden, n_tasks)

    def forward(self, codes, labs, demo, visit_mask, labels=None):
        code_mask = codes != 0
        visits = self.pool(self.codes(codes), code_mask) + self.labs(labs)
        patient = self.encoder(visits, visit_mask) + self.demo(demo)
        return {"logits": self.head(patient)}


def build_model(cfg, n_lab_features=None):
    n_labs = cfg.n_lab_features
    if n_lab_features is not None:
        n_labs = n_lab_features
    return VisitTransformer(
        cfg.code_vocab,
        n_labs,
        cfg.n_demo_features,
        cfg.hidden,
        cfg.heads,
        cfg.layers,
        len(cfg.tasks),
    )
