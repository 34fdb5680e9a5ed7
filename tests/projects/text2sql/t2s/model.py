import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from transformers import AutoModelForSeq2SeqLM

from .losses import fill_unmatched


class ValueLinker(nn.Module):
    """Attends from question tokens to database cell values that string-matched the question."""

    def __init__(self, d_model):
        super().__init__()
        self.q = nn.Linear(d_model, d_model)
        self.k = nn.Linear(d_model, d_model)
        self.v = nn.Linear(d_model, d_model)

    def forward(self, h_question, h_values, value_matched):
        q, k = self.q(h_question), self.k(h_values)
        scores = torch.einsum("bqd,bkd->bqk", q, k) / math.sqrt(q.size(-1))
        scores = fill_unmatched(scores, value_matched)
        weights = F.softmax(scores, dim=-1)
        return h_question + weights @ self.v(h_values)


class SchemaLinker(nn.Module):
    def __init__(self, d_model):
        super().__init__()
        self.q = nn.Linear(d_model, d_model)
        self.kv = nn.Linear(d_model, 2 * d_model)

    def forward(self, h_question, h_schema, schema_pad):
        q = self.q(h_question)
        k, v = self.kv(h_schema).chunk(2, dim=-1)
        keep = F.pad(~schema_pad, (1, 0), value=True)
        k = torch.cat([torch.zeros_like(k[:, :1]), k], 1)
        v = torch.cat([torch.zeros_like(v[:, :1]), v], 1)
        s = q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5
        s = s.masked_fill(~keep[:, None, :], float("-inf"))
        return h_question + s.softmax(-1) @ v


class LinkedT5(nn.Module):
    def __init__(self, name):
        super().__init__()
        self.t5 = AutoModelForSeq2SeqLM.from_pretrained(name)
        d = self.t5.config.d_model
        self.schema = SchemaLinker(d)
        self.values = ValueLinker(d)

    def forward(
        self,
        input_ids,
        attention_mask,
        schema_ids,
        schema_pad,
        value_ids,
        value_matched,
        labels=None,
    ):
        enc = self.t5.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        h_schema = (
            self.t5.encoder(input_ids=schema_ids).last_hidden_state.mean(2)
            if schema_ids.dim() == 3
            else self.t5.shared(schema_ids)
        )
        h_values = self.t5.shared(value_ids)
        enc = self.schema(enc, h_schema, schema_pad)
        enc = self.values(enc, h_values, value_matched)
        return self.t5(encoder_outputs=(enc,), attention_mask=attention_mask, labels=labels)
