import torch
import torch.nn as nn
import torch.nn.functional as F
from transformers import PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import CausalLMOutput


class HTRConfig(PretrainedConfig):
    model_type = "htr"

    def __init__(self, in_channels=1, d_model=256, n_heads=4, n_layers=4, vocab_size=96, **kw):
        super().__init__(**kw)
        self.in_channels, self.d_model, self.n_heads = in_channels, d_model, n_heads
        self.n_layers, self.vocab_size = n_layers, vocab_size


class ColumnSelfAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.h, self.hd = heads, d // heads
        self.scaling = self.hd**-0.5
        self.q_proj, self.k_proj, self.v_proj = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.o_proj = nn.Linear(d, d)

    def _shape(self, t, b):
        return t.view(b, -1, self.h, self.hd).transpose(1, 2).reshape(b * self.h, -1, self.hd)

    def forward(self, x, pad):
        b, n, d = x.shape
        query_states = self._shape(self.q_proj(x) * self.scaling, b)
        key_states = self._shape(self.k_proj(x), b)
        value_states = self._shape(self.v_proj(x), b)
        attn_weights = torch.bmm(query_states, key_states.transpose(1, 2)).view(b, self.h, n, n)
        attn_weights = attn_weights.masked_fill(pad[:, None, None, :], float("-inf"))
        attn_probs = F.softmax(attn_weights, dim=-1).view(b * self.h, n, n)
        out = torch.bmm(attn_probs, value_states).view(b, self.h, n, self.hd).transpose(1, 2)
        return self.o_proj(out.reshape(b, n, d))


class HTRModel(PreTrainedModel):
    config_class = HTRConfig

    def __init__(self, config):
        super().__init__(config)
        c = config
        self.cnn = nn.Sequential(
            nn.Conv2d(c.in_channels, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(128, c.d_model, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d((1, None)),
        )
        self.layers = nn.ModuleList(
            ColumnSelfAttention(c.d_model, c.n_heads) for _ in range(c.n_layers)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(c.d_model) for _ in range(c.n_layers))
        self.lm_head = nn.Linear(c.d_model, c.vocab_size)

    def forward(self, pixel_values, widths, labels=None, label_lengths=None):
        x = self.cnn(pixel_values).squeeze(2).transpose(1, 2)
        n_cols = widths // 4
        pad = torch.arange(x.shape[1], device=x.device)[None, :] >= n_cols[:, None]
        for attn, norm in zip(self.layers, self.norms):
            x = x + attn(norm(x), pad)
        return CausalLMOutput(logits=self.lm_head(x))
