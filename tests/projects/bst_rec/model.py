import torch
from einops import rearrange
from torch import nn


class SeqSelfAttention(nn.Module):
    def __init__(self, d_model, n_heads, dropout=0.1):
        super().__init__()
        self.h = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, hist_keep):
        b = x.shape[0]
        keep = torch.cat([hist_keep, torch.ones(b, 1, dtype=torch.bool, device=x.device)], dim=1)
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        q, k, v = (rearrange(t, "b n (h d) -> b h n d", h=self.h) for t in (q, k, v))
        logits = torch.einsum("bhid,bhjd->bhij", q, k)
        logits = logits.masked_fill(~keep[:, None, None, :], float("-inf"))
        attn = self.drop(logits.softmax(dim=-1))
        y = torch.einsum("bhij,bhjd->bhid", attn, v)
        return self.out(rearrange(y, "b h n d -> b n (h d)"))


class Block(nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        self.attn = SeqSelfAttention(d_model, n_heads)
        self.ln1 = nn.LayerNorm(d_model)
        self.ln2 = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(
            nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model)
        )

    def forward(self, x, hist_keep):
        x = self.ln1(x + self.attn(x, hist_keep))
        return self.ln2(x + self.ff(x))


class BST(nn.Module):
    def __init__(
        self, n_user_features, n_context_features, n_items, d_model=64, n_heads=4, max_len=20
    ):
        super().__init__()
        self.item_emb = nn.Embedding(n_items + 1, d_model, padding_idx=0)
        self.pos_emb = nn.Embedding(max_len + 1, d_model)
        self.block = Block(d_model, n_heads)
        self.user_mlp = nn.Sequential(nn.Linear(n_user_features, d_model), nn.ReLU())
        self.ctx_mlp = nn.Sequential(nn.Linear(n_context_features, d_model), nn.ReLU())
        self.head = nn.Sequential(nn.Linear(d_model * 3, 128), nn.LeakyReLU(), nn.Linear(128, 1))

    def forward(self, hist, target, user_x, ctx_x):
        b, n = hist.shape
        seq = torch.cat([hist, target[:, None]], dim=1)
        pos = torch.arange(n + 1, device=hist.device)
        h = self.block(self.item_emb(seq) + self.pos_emb(pos), hist != 0)
        pooled = h[:, -1]
        return self.head(
            torch.cat([pooled, self.user_mlp(user_x), self.ctx_mlp(ctx_x)], -1)
        ).squeeze(-1)
