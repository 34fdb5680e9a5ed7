import torch
import torch.nn as nn
from lora import mask_to_response


class ResponsePoolHead(nn.Module):
    """Attention pooling over the response tokens, then a quality score."""

    def __init__(self, hidden_size):
        super().__init__()
        self.q = nn.Parameter(torch.randn(hidden_size) / hidden_size**0.5)
        self.k = nn.Linear(hidden_size, hidden_size)
        self.score = nn.Linear(hidden_size, 1)

    def forward(self, hidden, response_mask):
        keys = self.k(hidden)
        logits = torch.einsum("d,btd->bt", self.q, keys) / keys.size(-1) ** 0.5
        logits = mask_to_response(logits, response_mask)
        weights = logits.softmax(dim=-1)
        pooled = torch.einsum("bt,btd->bd", weights, hidden)
        return self.score(pooled).squeeze(-1)


class PromptPoolHead(nn.Module):
    def __init__(self, hidden_size):
        super().__init__()
        self.k = nn.Linear(hidden_size, 1)

    def forward(self, hidden, attention_mask):
        logits = self.k(hidden).squeeze(-1)
        logits = logits.masked_fill(attention_mask == 0, torch.finfo(logits.dtype).min)
        return torch.einsum("bt,btd->bd", logits.softmax(dim=-1), hidden)
