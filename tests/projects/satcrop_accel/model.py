import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class DayOfYearEncoding(nn.Module):
    def __init__(self, d_model, period=366.0):
        super().__init__()
        self.register_buffer(
            "freqs", torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        )
        self.period = period

    def forward(self, doy):
        doy = doy.clamp(0, self.period)
        ang = doy[..., None] * self.freqs
        return torch.cat([ang.sin(), ang.cos()], dim=-1)


class EncoderLayer(nn.Module):
    def __init__(self, d_model, n_head, dropout):
        super().__init__()
        self.n_head = n_head
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.ln1 = nn.LayerNorm(d_model)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, 4 * d_model),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(4 * d_model, d_model),
        )

    def forward(self, x, keep):
        b, t, c = x.shape
        h = self.n_head
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, h, c // h).permute(2, 0, 3, 1, 4)
        att = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(c // h)
        att = att.masked_fill(~keep[:, None, None, :], float("-inf"))
        att = att.softmax(dim=-1)
        x = x + self.proj((att @ v).transpose(1, 2).reshape(b, t, c))
        return x + self.mlp(self.ln2(x))


class TemporalAttentionPool(nn.Module):
    def __init__(self, d_model):
        super().__init__()
        self.score = nn.Sequential(nn.Linear(d_model, d_model), nn.Tanh(), nn.Linear(d_model, 1))

    def forward(self, h, clear):
        a = self.score(h).squeeze(-1)
        a = a.masked_fill(~clear, float("-inf"))
        a = F.softmax(a, dim=1)
        return torch.einsum("bt,btc->bc", a, h)


class TempoCropNet(nn.Module):
    def __init__(self, in_channels, d_model, n_head, n_layers, n_classes, dropout=0.1):
        super().__init__()
        self.inp = nn.Linear(in_channels, d_model)
        self.doy = DayOfYearEncoding(d_model)
        self.cls = nn.Parameter(torch.zeros(1, 1, d_model))
        self.layers = nn.ModuleList(
            [EncoderLayer(d_model, n_head, dropout) for _ in range(n_layers)]
        )
        self.pool = TemporalAttentionPool(d_model)
        self.head = nn.Linear(2 * d_model, n_classes)

    def forward(self, x, doy, clear):
        h = self.inp(x) + self.doy(doy)
        h = torch.cat([self.cls.expand(h.size(0), -1, -1), h], dim=1)
        keep = F.pad(clear, (1, 0), value=True)
        for layer in self.layers:
            h = layer(h, keep)
        pooled = self.pool(h[:, 1:], clear)
        return self.head(torch.cat([h[:, 0], pooled], dim=-1))
