import torch.nn as nn

from .attn import AnomalyAttention, AttentionLayer


class EncoderLayer(nn.Module):
    def __init__(self, attention, d_model, d_ff, dropout=0.1):
        super().__init__()
        self.attention = attention
        self.ff = nn.Sequential(
            nn.Linear(d_model, d_ff), nn.GELU(), nn.Dropout(dropout), nn.Linear(d_ff, d_model)
        )
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)

    def forward(self, x):
        new_x, series, prior, sigma = self.attention(x)
        x = self.norm1(x + new_x)
        return self.norm2(x + self.ff(x)), series, prior, sigma


class AnomalyTransformer(nn.Module):
    def __init__(
        self, n_features, win_size, d_model=512, n_heads=8, e_layers=3, d_ff=512, dropout=0.0
    ):
        super().__init__()
        self.embedding = nn.Linear(n_features, d_model)
        self.layers = nn.ModuleList(
            EncoderLayer(
                AttentionLayer(AnomalyAttention(win_size, dropout), d_model, n_heads),
                d_model,
                d_ff,
                dropout,
            )
            for _ in range(e_layers)
        )
        self.projection = nn.Linear(d_model, n_features)

    def forward(self, x):
        h = self.embedding(x)
        series_list, prior_list = [], []
        for layer in self.layers:
            h, series, prior, _ = layer(h)
            series_list.append(series)
            prior_list.append(prior)
        return self.projection(h), series_list, prior_list
