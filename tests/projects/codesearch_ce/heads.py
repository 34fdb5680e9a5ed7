import torch
import torch.nn as nn
import torch.nn.functional as F
from transformers import AutoModel


class LexicalFusionHead(nn.Module):
    def __init__(self, hidden, n_lex_features, heads=4):
        super().__init__()
        self.lex = nn.Linear(n_lex_features, hidden)
        self.heads = heads
        self.q = nn.Linear(hidden, hidden)
        self.kv = nn.Linear(hidden, 2 * hidden)
        self.temperature = nn.Parameter(torch.tensor((hidden // heads) ** 0.5))
        self.out = nn.Linear(2 * hidden, 1)

    def forward(self, tok, attention_mask, lex):
        b, n, d = tok.shape
        h = self.heads
        cls = tok[:, :1]
        q = self.q(cls).view(b, 1, h, d // h).transpose(1, 2)
        k, v = (t.view(b, n, h, d // h).transpose(1, 2) for t in self.kv(tok).chunk(2, -1))
        pooled = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attention_mask[:, None, None, :].bool()
        )
        pooled = pooled.transpose(1, 2).reshape(b, d)
        s = (self.q(cls) @ tok.transpose(1, 2)).squeeze(1) / self.temperature
        s = s.masked_fill(attention_mask == 0, torch.finfo(s.dtype).min)
        salient = (s.softmax(-1).unsqueeze(-1) * tok).sum(1)
        return self.out(torch.cat([pooled + salient, self.lex(lex)], -1)).squeeze(-1)


class CrossEncoder(nn.Module):
    def __init__(self, name, n_lex_features):
        super().__init__()
        self.backbone = AutoModel.from_pretrained(name)
        self.head = LexicalFusionHead(self.backbone.config.hidden_size, n_lex_features)

    def forward(self, input_ids, attention_mask, lex):
        tok = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.head(tok, attention_mask, lex)


def build_cross_encoder(cfg, n_lex_override=None):
    n_lex = n_lex_override or cfg.model.n_lex_features
    return CrossEncoder(cfg.model.backbone, n_lex)
