import torch
import torch.nn as nn
import torch.nn.functional as F


def notes_logits(scores, tok_mask):
    return scores.masked_fill(tok_mask == 0, float("-inf"))


class NotesEncoder(nn.Module):
    def __init__(self, vocab, d, heads):
        super().__init__()
        self.heads = heads
        self.emb = nn.Embedding(vocab, d, padding_idx=0)
        self.qkv = nn.Linear(d, 3 * d)
        self.pool_q = nn.Parameter(torch.randn(d) / d**0.5)

    def forward(self, tokens, tok_mask):
        h = self.emb(tokens)
        b, n, d = h.shape
        q, k, v = (t.view(b, n, self.heads, -1).transpose(1, 2) for t in self.qkv(h).chunk(3, -1))
        keep = tok_mask[:, None, None, :].bool() | torch.eye(n, dtype=torch.bool, device=h.device)
        h = h + F.scaled_dot_product_attention(q, k, v, attn_mask=keep).transpose(1, 2).reshape(
            b, n, d
        )
        s = (h @ self.pool_q) / d**0.5
        w = notes_logits(s, tok_mask).softmax(-1)
        return (w.unsqueeze(-1) * h).sum(1)


class LineItemPool(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.score = nn.Linear(d, 1)

    def forward(self, items, item_mask):
        s = self.score(items).squeeze(-1)
        s = s.masked_fill(~item_mask, float("-inf"))
        w = torch.softmax(s, dim=-1)
        w = torch.where(item_mask.any(-1, keepdim=True), w, torch.zeros_like(w))
        return (w.unsqueeze(-1) * items).sum(1)


class ClaimsNet(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.num = nn.Sequential(
            nn.Linear(cfg.n_num_features, cfg.d), nn.GELU(), nn.Linear(cfg.d, cfg.d)
        )
        self.cat = nn.ModuleList(nn.Embedding(c, cfg.d) for c in cfg.cat_cardinalities)
        self.notes = NotesEncoder(cfg.vocab_size, cfg.d, cfg.heads)
        self.items = LineItemPool(cfg.d)
        self.item_proj = nn.Linear(cfg.item_dim, cfg.d)
        self.head = nn.Linear(4 * cfg.d, 1)

    def forward(self, num, cat, tokens, tok_mask, items, item_mask):
        c = sum(e(cat[:, i]) for i, e in enumerate(self.cat))
        z = [
            self.num(num),
            c,
            self.notes(tokens, tok_mask),
            self.items(self.item_proj(items), item_mask),
        ]
        return self.head(torch.cat(z, -1)).squeeze(-1)
