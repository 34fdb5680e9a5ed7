import torch
import torch.nn as nn
import utils as U
from registry import MODELS


@MODELS.register_module()
class WordAttention(nn.Module):
    def __init__(self, word_dim, hidden):
        super().__init__()
        self.gru = nn.GRU(word_dim, hidden, batch_first=True, bidirectional=True)
        self.proj = nn.Linear(2 * hidden, 2 * hidden)
        self.context = nn.Linear(2 * hidden, 1, bias=False)

    def forward(self, x, word_mask):
        h, _ = self.gru(x)
        scores = self.context(torch.tanh(self.proj(h))).squeeze(-1)
        scores = scores.masked_fill(~word_mask, float("-inf"))
        alpha = torch.softmax(scores, dim=-1)
        alpha = alpha.masked_fill(~word_mask, 0.0)
        return (alpha.unsqueeze(-1) * h).sum(1)


@MODELS.register_module()
class SentenceSelfAttention(nn.Module):
    def __init__(self, dim, temperature=None):
        super().__init__()
        self.q, self.k, self.v = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.temperature = temperature or dim**0.5

    def forward(self, s, sent_mask):
        attn = (self.q(s) @ self.k(s).transpose(-2, -1)) / self.temperature
        attn = attn.masked_fill(~sent_mask[:, None, :], -1e4)
        return s + attn.softmax(dim=-1) @ self.v(s)


@MODELS.register_module()
class HAN(nn.Module):
    def __init__(self, vocab_size, word_dim=200, hidden=50, num_classes=5, embeddings=None):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, word_dim, padding_idx=0)
        if embeddings is not None:
            self.embed.weight.data.copy_(embeddings)
        self.words = WordAttention(word_dim, hidden)
        self.sent_gru = nn.GRU(2 * hidden, hidden, batch_first=True, bidirectional=True)
        self.sent_self = SentenceSelfAttention(2 * hidden)
        self.sent_proj = nn.Linear(2 * hidden, 2 * hidden)
        self.sent_context = nn.Linear(2 * hidden, 1, bias=False)
        self.fc = nn.Linear(2 * hidden, num_classes)

    def forward(self, docs, word_mask, sent_mask):
        b, s, w = docs.shape
        sents = self.words(self.embed(docs.view(b * s, w)), word_mask.view(b * s, w)).view(b, s, -1)
        h, _ = self.sent_gru(sents)
        h = self.sent_self(h, sent_mask)
        scores = self.sent_context(torch.tanh(self.sent_proj(h))).squeeze(-1)
        alpha = U.mask_logits(scores, sent_mask).softmax(dim=-1)
        return self.fc((alpha.unsqueeze(-1) * h).sum(1))
