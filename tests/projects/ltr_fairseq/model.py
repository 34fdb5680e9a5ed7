import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class MultiheadAttention(nn.Module):
    def __init__(self, embed_dim, num_heads, dropout=0.0):
        super().__init__()
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.scaling = self.head_dim**-0.5
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.out_proj = nn.Linear(embed_dim, embed_dim)
        self.dropout = dropout

    def forward(self, query, key_padding_mask=None):
        tgt_len, bsz, embed_dim = query.size()
        q = self.q_proj(query)
        k = self.k_proj(query)
        v = self.v_proj(query)
        q *= self.scaling
        q = q.contiguous().view(tgt_len, bsz * self.num_heads, self.head_dim).transpose(0, 1)
        k = k.contiguous().view(-1, bsz * self.num_heads, self.head_dim).transpose(0, 1)
        v = v.contiguous().view(-1, bsz * self.num_heads, self.head_dim).transpose(0, 1)
        attn_weights = torch.bmm(q, k.transpose(1, 2))
        if key_padding_mask is not None:
            attn_weights = attn_weights.view(bsz, self.num_heads, tgt_len, -1)
            attn_weights = attn_weights.masked_fill(
                key_padding_mask.unsqueeze(1).unsqueeze(2).to(torch.bool),
                torch.finfo(attn_weights.dtype).min,
            )
            attn_weights = attn_weights.view(bsz * self.num_heads, tgt_len, -1)
        attn_probs = F.dropout(
            F.softmax(attn_weights, dim=-1), p=self.dropout, training=self.training
        )
        attn = torch.bmm(attn_probs, v).transpose(0, 1).contiguous().view(tgt_len, bsz, embed_dim)
        return self.out_proj(attn)


class QueryDocumentInteraction(nn.Module):
    def __init__(self, embed_dim):
        super().__init__()
        self.embed_dim = embed_dim
        self.q = nn.Linear(embed_dim, embed_dim)
        self.k = nn.Linear(embed_dim, embed_dim)
        self.v = nn.Linear(embed_dim, embed_dim)

    def _attend(self, q, k, v):
        w = torch.bmm(q, k.transpose(1, 2))
        return torch.bmm(w.softmax(dim=-1), v)

    def forward(self, docs, query_terms):
        scaling = 1.0 / math.sqrt(self.embed_dim)
        d2q = self._attend(self.q(docs) * scaling, self.k(query_terms), self.v(query_terms))
        q2d = self._attend(self.q(query_terms), self.k(docs), self.v(docs))
        return d2q + q2d.mean(1, keepdim=True)


class ListwiseRanker(nn.Module):
    def __init__(self, args):
        super().__init__()
        self.feature_proj = nn.Linear(args.n_features, args.embed_dim)
        self.term_emb = nn.Embedding(args.vocab_size, args.embed_dim, padding_idx=0)
        self.interaction = QueryDocumentInteraction(args.embed_dim)
        self.layers = nn.ModuleList(
            [
                MultiheadAttention(args.embed_dim, args.heads, args.attention_dropout)
                for _ in range(args.layers)
            ]
        )
        self.norms = nn.ModuleList([nn.LayerNorm(args.embed_dim) for _ in range(args.layers)])
        self.score = nn.Linear(args.embed_dim, 1)

    @classmethod
    def build_model(cls, args, task):
        return cls(args)

    def forward(self, features, query_tokens, doc_padding_mask):
        x = self.feature_proj(features)
        x = self.interaction(x, self.term_emb(query_tokens))
        x = x.transpose(0, 1)
        for attn, norm in zip(self.layers, self.norms):
            x = norm(x + attn(x, key_padding_mask=doc_padding_mask))
        return self.score(x.transpose(0, 1)).squeeze(-1)
