import math

import torch
import torch.nn as nn
from losses import context_only
from transformers import AutoModel


class QuestionAwarePooler(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.q = nn.Linear(hidden, hidden)
        self.k = nn.Linear(hidden, hidden)
        self.d = hidden

    def forward(self, h, context_mask):
        q = self.q(h[:, :1])
        k = self.k(h)
        scores = torch.einsum("bqd,bkd->bqk", q, k) / math.sqrt(self.d)
        attn = context_only(scores, context_mask).softmax(dim=-1)
        return (attn @ h).squeeze(1)


class SpanExtractor(nn.Module):
    def __init__(self, model_name, n_extra_features, dropout=0.1):
        super().__init__()
        self.encoder = AutoModel.from_pretrained(model_name)
        hidden = self.encoder.config.hidden_size
        self.extra = nn.Linear(n_extra_features, hidden)
        self.pooler = QuestionAwarePooler(hidden)
        self.dropout = nn.Dropout(dropout)
        self.qa_outputs = nn.Linear(2 * hidden, 2)
        self.has_answer = nn.Linear(hidden, 1)

    def forward(self, input_ids, attention_mask, token_type_ids=None, extra_features=None, **_):
        h = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if extra_features is not None:
            h = h + self.extra(extra_features)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        context_mask = (token_type_ids == 1) & attention_mask.bool()
        pooled = self.pooler(h, context_mask)
        h = torch.cat([h, pooled[:, None, :].expand_as(h)], dim=-1)
        logits = self.qa_outputs(self.dropout(h))
        start_logits, end_logits = logits.split(1, dim=-1)
        return {
            "start_logits": start_logits.squeeze(-1).contiguous(),
            "end_logits": end_logits.squeeze(-1).contiguous(),
            "has_answer_logits": self.has_answer(pooled).squeeze(-1),
        }
