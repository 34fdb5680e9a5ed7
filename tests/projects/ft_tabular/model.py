import math

import torch
import torch.nn as nn


class NumericalTokenizer(nn.Module):
    def __init__(self, n_num_features, d_token):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_num_features, d_token))
        self.bias = nn.Parameter(torch.empty(n_num_features, d_token))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        nn.init.zeros_(self.bias)

    def forward(self, x_num):
        return x_num[..., None] * self.weight + self.bias


class CategoricalTokenizer(nn.Module):
    def __init__(self, cardinalities, d_token):
        super().__init__()
        offsets = torch.tensor([0, *list(cardinalities[:-1])]).cumsum(0)
        self.register_buffer("offsets", offsets)
        self.emb = nn.Embedding(sum(cardinalities), d_token)

    def forward(self, x_cat):
        return self.emb(x_cat + self.offsets)


class FeatureAttention(nn.Module):
    def __init__(self, d, n_heads, dropout):
        super().__init__()
        self.h = n_heads
        self.d_head = d // n_heads
        self.W_q = nn.Linear(d, d)
        self.W_k = nn.Linear(d, d)
        self.W_v = nn.Linear(d, d)
        self.W_out = nn.Linear(d, d)
        self.drop = nn.Dropout(dropout)

    def _split(self, x):
        b, n, _ = x.shape
        return x.reshape(b, n, self.h, self.d_head).transpose(1, 2)

    def forward(self, x):
        q, k, v = self._split(self.W_q(x)), self._split(self.W_k(x)), self._split(self.W_v(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.d_head)
        attn = self.drop(torch.softmax(scores, dim=-1))
        out = (attn @ v).transpose(1, 2).flatten(2)
        return self.W_out(out)


class Block(nn.Module):
    def __init__(self, d, n_heads, attn_dropout, ffn_factor):
        super().__init__()
        hidden = int(d * ffn_factor)
        self.norm1 = nn.LayerNorm(d)
        self.attn = FeatureAttention(d, n_heads, attn_dropout)
        self.norm2 = nn.LayerNorm(d)
        self.ffn = nn.Sequential(nn.Linear(d, 2 * hidden), nn.GLU(), nn.Linear(hidden, d))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))


class FTTransformer(nn.Module):
    def __init__(
        self,
        n_num_features,
        cat_cardinalities,
        d_token,
        n_blocks,
        n_heads,
        attn_dropout,
        ffn_factor,
        d_out=1,
    ):
        super().__init__()
        self.num_tok = NumericalTokenizer(n_num_features, d_token)
        self.cat_tok = CategoricalTokenizer(cat_cardinalities, d_token)
        self.cls = nn.Parameter(torch.zeros(1, 1, d_token))
        self.blocks = nn.ModuleList(
            Block(d_token, n_heads, attn_dropout, ffn_factor) for _ in range(n_blocks)
        )
        self.head = nn.Sequential(nn.LayerNorm(d_token), nn.ReLU(), nn.Linear(d_token, d_out))

    def forward(self, x_num, x_cat):
        tokens = torch.cat([self.num_tok(x_num), self.cat_tok(x_cat)], dim=1)
        x = torch.cat([self.cls.expand(tokens.shape[0], -1, -1), tokens], dim=1)
        for block in self.blocks:
            x = block(x)
        return self.head(x[:, 0]).squeeze(-1)
