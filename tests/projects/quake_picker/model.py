import math

import torch.nn as nn
import torch.nn.functional as F


class ConvStem(nn.Module):
    def __init__(self, in_channels, width):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(in_channels, width, 7, padding=3),
            nn.BatchNorm1d(width),
            nn.ReLU(),
            nn.Conv1d(width, width, 7, stride=2, padding=3),
            nn.BatchNorm1d(width),
            nn.ReLU(),
        )

    def forward(self, x):
        return self.net(x)


class TemporalAttention(nn.Module):
    def __init__(self, width, heads=4):
        super().__init__()
        self.heads = heads
        self.d = width // heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, h, valid):
        b, t, c = h.shape
        q, k, v = self.qkv(h).view(b, t, 3, self.heads, self.d).permute(2, 0, 3, 1, 4)
        s = q @ k.transpose(-2, -1) / math.sqrt(self.d)
        s = s.masked_fill(~valid[:, None, None, :], float("-inf"))
        a = s.softmax(dim=-1)
        out = (a @ v).transpose(1, 2).reshape(b, t, c)
        return self.proj(out)


class PhasePicker(nn.Module):
    def __init__(self, in_channels, width=64, layers=3):
        super().__init__()
        self.stem = ConvStem(in_channels, width)
        self.attn = nn.ModuleList(TemporalAttention(width) for _ in range(layers))
        self.norms = nn.ModuleList(nn.LayerNorm(width) for _ in range(layers))
        self.head = nn.Conv1d(width, 3, 1)

    def forward(self, wave, valid):
        h = self.stem(wave).transpose(1, 2)
        valid = valid[:, ::2][:, : h.shape[1]]
        for att, norm in zip(self.attn, self.norms):
            h = h + att(norm(h), valid)
        logits = self.head(h.transpose(1, 2))
        return F.interpolate(logits, size=wave.shape[-1], mode="linear")


def make_picker(args, n_channels=None):
    in_channels = n_channels or args.in_channels
    return PhasePicker(in_channels, width=args.width, layers=args.layers)
