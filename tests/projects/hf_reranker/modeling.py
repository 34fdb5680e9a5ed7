import math

import torch
import torch.nn as nn
from transformers import AutoModel, PretrainedConfig, PreTrainedModel


class PairBiasAttention(nn.Module):
    def __init__(self, hidden_size, num_heads, dropout=0.1):
        super().__init__()
        self.num_heads = num_heads
        self.head_size = hidden_size // num_heads
        self.query = nn.Linear(hidden_size, hidden_size)
        self.key = nn.Linear(hidden_size, hidden_size)
        self.value = nn.Linear(hidden_size, hidden_size)
        self.pair_bias = nn.Linear(hidden_size, num_heads)
        self.dropout = nn.Dropout(dropout)

    def split(self, x):
        b, n, _ = x.shape
        return x.view(b, n, self.num_heads, self.head_size).permute(0, 2, 1, 3)

    def forward(self, hidden_states, attention_mask=None):
        q = self.split(self.query(hidden_states))
        k = self.split(self.key(hidden_states))
        v = self.split(self.value(hidden_states))
        scores = torch.matmul(q, k.transpose(-1, -2))
        scores = scores / math.sqrt(self.head_size)
        scores = scores + self.pair_bias(hidden_states).permute(0, 2, 1).unsqueeze(-1)
        if attention_mask is not None:
            ext = (1.0 - attention_mask[:, None, None, :].to(scores.dtype)) * torch.finfo(
                scores.dtype
            ).min
            scores = scores + ext
        probs = nn.functional.softmax(scores, dim=-1)
        probs = self.dropout(probs)
        ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
        return ctx.view(ctx.size(0), ctx.size(1), -1)


class SpanPooler(nn.Module):
    """Attention pooling over the tokens of each span."""

    def __init__(self, hidden_size):
        super().__init__()
        self.score = nn.Linear(hidden_size, hidden_size)
        self.ctx = nn.Linear(hidden_size, hidden_size)

    def forward(self, hidden_states, span_mask):
        keys = self.score(hidden_states)
        queries = self.ctx(hidden_states.mean(1, keepdim=True))
        logits = queries @ keys.transpose(1, 2)
        logits = logits.masked_fill(span_mask.unsqueeze(1) == 0, float("-inf"))
        weights = logits.softmax(-1)
        pooled = weights @ hidden_states
        has_token = span_mask.any(-1)
        pooled[has_token] = pooled[has_token] / pooled[has_token].norm(dim=-1, keepdim=True)
        return pooled.squeeze(1)


class GatedCrossAttention(nn.Module):
    def __init__(self, hidden_size):
        super().__init__()
        self.q = nn.Linear(hidden_size, hidden_size)
        self.kv = nn.Linear(hidden_size, 2 * hidden_size)
        self.scale = hidden_size**-0.5

    def forward(self, x, memory, memory_mask):
        q = self.q(x)
        k, v = self.kv(memory).chunk(2, dim=-1)
        sim = torch.einsum("b i d, b j d -> b i j", q, k) * self.scale
        sim = sim.masked_fill(~memory_mask[:, None, :], -float("inf"))
        attn = sim.softmax(dim=-1)
        attn = attn.masked_fill(~memory_mask[:, None, :], 0.0)
        return torch.einsum("b i j, b j d -> b i d", attn, v)


class RerankerConfig(PretrainedConfig):
    model_type = "reranker"

    def __init__(self, encoder_name="bert-base-uncased", hidden_size=768, num_heads=12, **kwargs):
        super().__init__(**kwargs)
        self.encoder_name = encoder_name
        self.hidden_size = hidden_size
        self.num_heads = num_heads


class Reranker(PreTrainedModel):
    config_class = RerankerConfig

    def __init__(self, config):
        super().__init__(config)
        self.encoder = AutoModel.from_pretrained(config.encoder_name)
        self.pair_attn = PairBiasAttention(config.hidden_size, config.num_heads)
        self.pool = SpanPooler(config.hidden_size)
        self.cross = GatedCrossAttention(config.hidden_size)
        self.classifier = nn.Linear(config.hidden_size, 1)

    def forward(self, input_ids, attention_mask, span_mask, labels=None):
        h = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        h = h + self.pair_attn(h, attention_mask)
        h = h + self.cross(h, h, attention_mask.bool())
        pooled = self.pool(h, span_mask)
        logits = self.classifier(pooled).squeeze(-1)
        return {"logits": logits}
