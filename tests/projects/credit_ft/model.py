import math

import torch
import torch.nn.functional as F
from torch import nn


class FeatureTokenizer(nn.Module):
    def __init__(self, n_num_features, cat_cards, d_token):
        super().__init__()
        self.num_w = nn.Parameter(torch.randn(n_num_features, d_token) / math.sqrt(d_token))
        self.num_b = nn.Parameter(torch.zeros(n_num_features, d_token))
        self.cat = nn.Embedding(sum(cat_cards), d_token)
        self.register_buffer("offsets", torch.tensor([0] + list(cat_cards[:-1])).cumsum(0))  # noqa: RUF005
        self.cls = nn.Parameter(torch.zeros(1, 1, d_token))

    def forward(self, x_num, x_cat):
        tok = torch.cat(
            [x_num[..., None] * self.num_w + self.num_b, self.cat(x_cat + self.offsets)], 1
        )
        return torch.cat([self.cls.expand(tok.size(0), -1, -1), tok], 1)


class FeatureAttention(nn.Module):
    def __init__(self, d_token, n_heads):
        super().__init__()
        self.h, self.d_head = n_heads, d_token // n_heads
        self.qkv = nn.Linear(d_token, 3 * d_token)
        self.out = nn.Linear(d_token, d_token)

    def forward(self, x, present):
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.h, self.d_head).permute(2, 0, 3, 1, 4)
        keep = F.pad(present, (1, 0), value=True)
        s = q @ k.transpose(-2, -1) / math.sqrt(self.d_head)
        s = s.masked_fill(~keep[:, None, None, :], float("-inf"))
        return self.out((s.softmax(-1) @ v).transpose(1, 2).reshape(b, n, d))


class TradelinePool(nn.Module):
    def __init__(self, n_line_features, d_token):
        super().__init__()
        self.embed = nn.Linear(n_line_features, d_token)
        self.k = nn.Linear(d_token, d_token)
        self.scale = d_token**-0.5

    def forward(self, cls, lines, line_mask):
        e = self.embed(lines)
        logits = torch.einsum("bd,bld->bl", cls, self.k(e)) * self.scale
        logits = logits.masked_fill(~line_mask, float("-inf"))
        w = torch.softmax(logits, dim=-1)
        return torch.einsum("bl,bld->bd", w, e)


class CreditTransformer(nn.Module):
    def __init__(
        self, n_num_features, cat_cards, n_line_features, d_token=192, n_blocks=3, n_heads=8
    ):
        super().__init__()
        self.tok = FeatureTokenizer(n_num_features, cat_cards, d_token)
        self.blocks = nn.ModuleList(FeatureAttention(d_token, n_heads) for _ in range(n_blocks))
        self.lines = TradelinePool(n_line_features, d_token)
        self.head = nn.Linear(2 * d_token, 1)

    def forward(self, x_num, x_cat, present, lines, line_mask):
        h = self.tok(x_num, x_cat)
        for blk in self.blocks:
            h = h + blk(h, present)
        cls = h[:, 0]
        return self.head(torch.cat([cls, self.lines(cls, lines, line_mask)], -1)).squeeze(-1)
