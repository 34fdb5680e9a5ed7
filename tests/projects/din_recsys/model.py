import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class TargetAttention(nn.Module):
    """DIN-style interest pooling: weight each clicked item by its match with the candidate."""

    def __init__(self, emb):
        super().__init__()
        self.q = nn.Linear(emb, emb)
        self.k = nn.Linear(emb, emb)
        self.scale = emb**-0.5

    def forward(self, cand, hist, hist_mask):
        # cand [B, E], hist [B, L, E], hist_mask [B, L] True where there was a click
        q = self.q(cand).unsqueeze(1)
        k = self.k(hist)
        scores = torch.bmm(q, k.transpose(1, 2)).squeeze(1) * self.scale
        scores = scores.masked_fill(~hist_mask, float("-inf"))
        w = torch.softmax(scores, dim=-1)
        return torch.bmm(w.unsqueeze(1), hist).squeeze(1)


class SessionAttention(nn.Module):
    """Attention over the live session, with a learned start token that is always present."""

    def __init__(self, emb):
        super().__init__()
        self.start = nn.Parameter(torch.zeros(1, 1, emb))
        self.qk = nn.Linear(emb, 2 * emb)

    def forward(self, cand, sess, sess_mask):
        b = sess.shape[0]
        sess = torch.cat([self.start.expand(b, -1, -1), sess], dim=1)
        keep = F.pad(sess_mask, (1, 0), value=True)
        q, k = self.qk(sess).chunk(2, dim=-1)
        logits = (cand.unsqueeze(1) @ k.transpose(1, 2)).squeeze(1) / math.sqrt(k.shape[-1])
        logits = logits.masked_fill(~keep, float("-inf"))
        return (logits.softmax(-1).unsqueeze(-1) * sess).sum(1)


class DINRanker(nn.Module):
    def __init__(self, dense_dim, item_dim, vocab, emb, hist_emb):
        super().__init__()
        self.sparse = nn.ModuleDict(
            {name: nn.Embedding(n, emb) for name, n in vocab.items() if name != "item_id"}
        )
        self.item_emb = nn.Embedding(vocab["item_id"], hist_emb)
        self.user_dense = nn.Linear(dense_dim, 64)
        self.item_dense = nn.Linear(item_dim, 64)
        self.interest = TargetAttention(hist_emb)
        self.session = SessionAttention(hist_emb)
        n_sparse = len(self.sparse)
        self.head = nn.Sequential(
            nn.Linear(128 + n_sparse * emb + 3 * hist_emb, 200),
            nn.PReLU(),
            nn.Linear(200, 80),
            nn.PReLU(),
            nn.Linear(80, 1),
        )

    def forward(self, batch):
        cand = self.item_emb(batch["item_id"])
        hist = self.item_emb(batch["hist_ids"])
        sess = self.item_emb(batch["sess_ids"])
        parts = [self.user_dense(batch["user_dense"]), self.item_dense(batch["item_dense"])]
        parts += [self.sparse[name](batch[name]) for name in self.sparse]
        parts += [
            cand,
            self.interest(cand, hist, batch["hist_mask"]),
            self.session(cand, sess, batch["sess_mask"]),
        ]
        return self.head(torch.cat(parts, dim=-1)).squeeze(-1)
