import torch
import torch.nn as nn
import torch.nn.functional as F


class HistoryAttention(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.wq = nn.Linear(dim, dim, bias=False)
        self.wk = nn.Linear(dim, dim, bias=False)

    def forward(self, target, hist, hist_mask):
        q = self.wq(target).unsqueeze(1)
        k = self.wk(hist)
        scores = torch.matmul(q, k.transpose(-1, -2)).squeeze(1)
        scores = scores.masked_fill(hist_mask == 0, float("-inf"))
        w = F.softmax(scores, dim=-1)
        return (w.unsqueeze(-1) * hist).sum(1)


class TwoTower(nn.Module):
    def __init__(self, n_features, n_items, dim=64, tau=0.05):
        super().__init__()
        self.user = nn.Sequential(nn.Linear(n_features, dim), nn.ReLU(), nn.Linear(dim, dim))
        self.items = nn.Embedding(n_items, dim)
        self.hist_attn = HistoryAttention(dim)
        self.tau = tau

    def user_vec(self, feats, hist_ids, hist_mask):
        u = self.user(feats)
        return u + self.hist_attn(u, self.items(hist_ids), hist_mask)

    def forward(self, feats, hist_ids, hist_mask, pos_ids, neg_ids):
        u = self.user_vec(feats, hist_ids, hist_mask)
        pos = (u * self.items(pos_ids)).sum(-1)
        neg = (u.unsqueeze(1) * self.items(neg_ids)).sum(-1)
        return pos, neg

    def in_batch_logits(self, feats, hist_ids, hist_mask, pos_ids):
        u = F.normalize(self.user_vec(feats, hist_ids, hist_mask), dim=-1)
        v = F.normalize(self.items(pos_ids), dim=-1)
        return u @ v.T / self.tau
