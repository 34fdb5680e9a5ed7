import torch
import torch.nn as nn

from .attention import AdditiveAttention, attend, masked_softmax


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, d_in, n_heads, head_dim):
        super().__init__()
        self.h, self.hd = n_heads, head_dim
        self.W_q = nn.Linear(d_in, n_heads * head_dim)
        self.W_k = nn.Linear(d_in, n_heads * head_dim)
        self.W_v = nn.Linear(d_in, n_heads * head_dim)

    def _heads(self, x):
        b, n, _ = x.shape
        return x.view(b, n, self.h, self.hd).transpose(1, 2)

    def forward(self, x):
        q, k, v = self._heads(self.W_q(x)), self._heads(self.W_k(x)), self._heads(self.W_v(x))
        out = attend(q, k, v)
        return out.transpose(1, 2).flatten(2)


class NewsEncoder(nn.Module):
    def __init__(self, embeddings, glove_dim, n_heads, head_dim, query_dim, dropout):
        super().__init__()
        self.emb = nn.Embedding.from_pretrained(embeddings, freeze=False, padding_idx=0)
        self.mhsa = MultiHeadSelfAttention(glove_dim, n_heads, head_dim)
        self.pool = AdditiveAttention(n_heads * head_dim, query_dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, title):
        h = self.mhsa(self.drop(self.emb(title)))
        return self.pool(self.drop(h), title != 0)


class UserEncoder(nn.Module):
    def __init__(self, d, query_dim):
        super().__init__()
        self.q = nn.Linear(d, query_dim)
        self.k = nn.Linear(d, query_dim)
        self.scale = query_dim**-0.5

    def forward(self, clicked, hist_keep):
        logits = (self.q(clicked) * self.scale) @ self.k(clicked).transpose(1, 2)
        w = masked_softmax(logits, hist_keep[:, None, :])
        ctx = w @ clicked
        alpha = masked_softmax(ctx.mean(-1), hist_keep)
        return (alpha.unsqueeze(-1) * ctx).sum(1)


class NRMS(nn.Module):
    def __init__(self, embeddings, mcfg):
        super().__init__()
        d = mcfg.n_heads * mcfg.head_dim
        self.news = NewsEncoder(
            embeddings, mcfg.glove_dim, mcfg.n_heads, mcfg.head_dim, mcfg.query_dim, mcfg.dropout
        )
        self.user = UserEncoder(d, mcfg.query_dim)

    def forward(self, history, hist_keep, candidates):
        b, n_hist, L = history.shape
        clicked = self.news(history.view(-1, L)).view(b, n_hist, -1)
        cand = self.news(candidates.view(-1, L)).view(b, candidates.shape[1], -1)
        user = self.user(clicked, hist_keep)
        return torch.einsum("bcd,bd->bc", cand, user)
