import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class CausalSelfAttention(nn.Module):
    def __init__(self, d_model, n_heads, max_len):
        super().__init__()
        self.n_heads = n_heads
        self.head_dim = d_model // n_heads
        self.scale = self.head_dim**-0.5
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.register_buffer(
            "causal", torch.tril(torch.ones(max_len, max_len)).view(1, 1, max_len, max_len)
        )

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(x).split(c, dim=-1)
        q = q.view(b, t, self.n_heads, self.head_dim).transpose(1, 2)
        k = k.view(b, t, self.n_heads, self.head_dim).transpose(1, 2)
        v = v.view(b, t, self.n_heads, self.head_dim).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * self.scale
        att = att.masked_fill(self.causal[:, :, :t, :t] == 0, float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, c)
        return self.out(y)


class BarSummary(nn.Module):
    """Each bar attends over the note events that fall inside it."""

    def __init__(self, d_model):
        super().__init__()
        self.bar_q = nn.Linear(d_model, d_model)
        self.note_k = nn.Linear(d_model, d_model)

    def forward(self, bars, notes, note_in_bar):
        q = self.bar_q(bars)
        k = self.note_k(notes)
        logits = torch.einsum("bmd,bnd->bmn", q, k) / math.sqrt(q.size(-1))
        logits = logits.masked_fill(~note_in_bar, float("-inf"))
        w = logits.softmax(dim=-1)
        return w @ notes


class Block(nn.Module):
    def __init__(self, d_model, n_heads, max_len):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, n_heads, max_len)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model)
        )

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class MusicTransformer(nn.Module):
    def __init__(self, vocab_size, feat_dim, d_model, n_heads, n_layers, max_len):
        super().__init__()
        self.tok = nn.Embedding(vocab_size, d_model)
        self.expr = nn.Linear(feat_dim, d_model)
        self.pos = nn.Embedding(max_len, d_model)
        self.blocks = nn.ModuleList(Block(d_model, n_heads, max_len) for _ in range(n_layers))
        self.bars = BarSummary(d_model)
        self.ln = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, tokens, expr, bar_emb, note_in_bar):
        t = tokens.size(1)
        h = self.tok(tokens) + self.expr(expr) + self.pos(torch.arange(t, device=tokens.device))
        for blk in self.blocks:
            h = blk(h)
        ctx = self.bars(bar_emb, h, note_in_bar)
        h = h + ctx.mean(dim=1, keepdim=True)
        return self.head(self.ln(h))


@torch.no_grad()
def sample_next(model, tokens, expr, bar_emb, note_in_bar, top_k=32, temperature=1.0):
    logits = model(tokens, expr, bar_emb, note_in_bar)[:, -1, :] / temperature
    kth = torch.topk(logits, top_k).values[:, -1, None]
    indices_to_remove = logits < kth
    logits = logits.masked_fill(indices_to_remove, float("-inf"))
    probs = F.softmax(logits, dim=-1)
    return torch.multinomial(probs, 1)
