import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def mask_padded_keys(scores, key_pad):
    return scores.masked_fill(key_pad[:, None, None, :], float("-inf"))


class SAKTAttention(nn.Module):
    def __init__(self, d_model, n_heads, max_len):
        super().__init__()
        self.h = n_heads
        self.d_k = d_model // n_heads
        self.q = nn.Linear(d_model, d_model)
        self.k = nn.Linear(d_model, d_model)
        self.v = nn.Linear(d_model, d_model)
        self.o = nn.Linear(d_model, d_model)
        future = torch.triu(torch.ones(max_len, max_len, dtype=torch.bool), diagonal=1)
        self.register_buffer("future", future)

    def split(self, x):
        b, n, _ = x.shape
        return x.view(b, n, self.h, self.d_k).transpose(1, 2)

    def forward(self, exercise, interaction, key_pad):
        n = exercise.size(1)
        q, k, v = (
            self.split(self.q(exercise)),
            self.split(self.k(interaction)),
            self.split(self.v(interaction)),
        )
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(self.d_k)
        scores = scores.masked_fill(self.future[:n, :n], float("-inf"))
        scores = mask_padded_keys(scores, key_pad)
        attn = torch.softmax(scores, dim=-1)
        out = torch.matmul(attn, v).transpose(1, 2).reshape(exercise.shape)
        return self.o(out)


class SAKT(nn.Module):
    def __init__(self, n_skills, d_model=128, n_heads=8, max_len=100, dropout=0.2):
        super().__init__()
        self.interaction_emb = nn.Embedding(2 * n_skills + 1, d_model, padding_idx=0)
        self.exercise_emb = nn.Embedding(n_skills + 1, d_model, padding_idx=0)
        self.pos = nn.Embedding(max_len, d_model)
        self.attn = SAKTAttention(d_model, n_heads, max_len)
        self.ffn = nn.Sequential(
            nn.Linear(d_model, d_model), nn.ReLU(), nn.Dropout(dropout), nn.Linear(d_model, d_model)
        )
        self.ln1 = nn.LayerNorm(d_model)
        self.ln2 = nn.LayerNorm(d_model)
        self.pred = nn.Linear(d_model, 1)

    def forward(self, interactions, exercises):
        interactions = F.pad(interactions[:, :-1], (1, 0), value=0)
        pos = torch.arange(interactions.size(1), device=interactions.device)
        m = self.interaction_emb(interactions) + self.pos(pos)
        e = self.exercise_emb(exercises)
        key_pad = interactions == 0
        h = self.ln1(e + self.attn(e, m, key_pad))
        h = self.ln2(h + self.ffn(h))
        return self.pred(h).squeeze(-1)
