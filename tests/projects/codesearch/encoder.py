import torch.nn as nn
import torch.nn.functional as F


class CodeEncoder(nn.Module):
    """Shared-weight bi-encoder for queries and code snippets."""

    def __init__(self, vocab_size, dim=256, layers=4, heads=8):
        super().__init__()
        self.emb = nn.Embedding(vocab_size, dim, padding_idx=0)
        layer = nn.TransformerEncoderLayer(dim, heads, 4 * dim, batch_first=True)
        self.enc = nn.TransformerEncoder(layer, layers)
        self.proj = nn.Linear(dim, dim)

    def forward(self, ids):
        pad = ids.eq(0)
        h = self.enc(self.emb(ids), src_key_padding_mask=pad)
        h = h.masked_fill(pad[..., None], 0.0)
        pooled = h.sum(1) / (~pad).sum(1, keepdim=True).clamp(min=1)
        return F.normalize(self.proj(pooled), dim=-1)


class BiEncoder(nn.Module):
    def __init__(self, vocab_size, dim=256, temperature=0.05):
        super().__init__()
        self.encoder = CodeEncoder(vocab_size, dim)
        self.temperature = temperature

    def score(self, query_ids, code_ids):
        q = self.encoder(query_ids)
        c = self.encoder(code_ids)
        return q @ c.T / self.temperature
