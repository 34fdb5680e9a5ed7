import math

import torch
import torch.nn as nn
from transformers import PretrainedConfig, PreTrainedModel


class ChurnConfig(PretrainedConfig):
    model_type = "churn"

    def __init__(
        self,
        n_activity_features=24,
        n_static_features=12,
        d_model=128,
        n_heads=4,
        n_layers=3,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.n_activity_features = n_activity_features
        self.n_static_features = n_static_features
        self.d_model, self.n_heads, self.n_layers = d_model, n_heads, n_layers


def attention_logits(q, k):
    return torch.bmm(q, k.transpose(1, 2))


class MonthSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.n_heads = config.n_heads
        self.head_dim = config.d_model // config.n_heads
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.out = nn.Linear(config.d_model, config.d_model)

    def forward(self, h, extended_mask):
        b, t, d = h.shape
        q, k, v = self.qkv(h).view(b, t, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        scores = scores + extended_mask
        probs = nn.functional.softmax(scores, dim=-1)
        return self.out(torch.matmul(probs, v).transpose(1, 2).reshape(b, t, d))


class ChurnModel(PreTrainedModel):
    config_class = ChurnConfig

    def __init__(self, config):
        super().__init__(config)
        self.activity = nn.Linear(config.n_activity_features, config.d_model)
        self.static = nn.Linear(config.n_static_features, config.d_model)
        self.layers = nn.ModuleList(MonthSelfAttention(config) for _ in range(config.n_layers))
        self.norms = nn.ModuleList(nn.LayerNorm(config.d_model) for _ in range(config.n_layers))
        self.pool_q = nn.Linear(config.d_model, config.d_model)
        self.pool_k = nn.Linear(config.d_model, config.d_model)
        self.classifier = nn.Linear(2 * config.d_model, 1)

    def forward(self, activity, static, attention_mask, labels=None):
        h = self.activity(activity)
        ext = (1.0 - attention_mask[:, None, None, :].to(h.dtype)) * torch.finfo(h.dtype).min
        for norm, layer in zip(self.norms, self.layers):
            h = h + layer(norm(h), ext)
        s = self.static(static)
        w = attention_logits(self.pool_q(s).unsqueeze(1), self.pool_k(h)).softmax(dim=-1)
        pooled = torch.bmm(w, h).squeeze(1)
        return {"logits": self.classifier(torch.cat([pooled, s], dim=-1)).squeeze(-1)}
