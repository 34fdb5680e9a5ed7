import torch
import torch.nn as nn
import torch.nn.functional as F
from config import SepConfig
from layers import MHA, dot_attention, merge_heads, split_heads


class Encoder(nn.Module):
    def __init__(self, kernel, channels):
        super().__init__()
        self.conv = nn.Conv1d(1, channels, kernel, stride=kernel // 2, bias=False)

    def forward(self, wav):
        return torch.relu(self.conv(wav.unsqueeze(1)))


class Decoder(nn.Module):
    def __init__(self, kernel, channels):
        super().__init__()
        self.deconv = nn.ConvTranspose1d(channels, 1, kernel, stride=kernel // 2, bias=False)

    def forward(self, feats):
        return self.deconv(feats).squeeze(1)


class IntraBlock(nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attn = MHA(d_model, n_heads, dropout=0.1)
        self.norm2 = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(
            nn.Linear(d_model, 4 * d_model), nn.ReLU(), nn.Linear(4 * d_model, d_model)
        )

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.ff(self.norm2(x))


class InterBlock(nn.Module):
    """Attention across chunks. Kept light: one projection per role, no dropout."""

    def __init__(self, d_model, n_heads):
        super().__init__()
        self.n_heads = n_heads
        self.norm = nn.LayerNorm(d_model)
        self.q = nn.Linear(d_model, d_model)
        self.k = nn.Linear(d_model, d_model)
        self.v = nn.Linear(d_model, d_model)
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, x):
        h = self.norm(x)
        q = split_heads(self.q(h), self.n_heads)
        k = split_heads(self.k(h), self.n_heads)
        v = split_heads(self.v(h), self.n_heads)
        out, _ = dot_attention(q, k, v)
        return x + self.proj(merge_heads(out))


class DualPathSeparator(nn.Module):
    def __init__(self, cfg: SepConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg.enc_kernel, cfg.enc_channels)
        self.bottleneck = nn.Linear(cfg.enc_channels, cfg.d_model)
        self.intra = nn.ModuleList(
            IntraBlock(cfg.d_model, cfg.n_heads) for _ in range(cfg.n_blocks)
        )
        self.inter = nn.ModuleList(
            InterBlock(cfg.d_model, cfg.n_heads) for _ in range(cfg.n_blocks)
        )
        self.mask_head = nn.Linear(cfg.d_model, cfg.enc_channels * cfg.n_src)
        self.decoder = Decoder(cfg.enc_kernel, cfg.enc_channels)

    def forward(self, mix):
        feats = self.encoder(mix)  # [B, C, T]
        h = self.bottleneck(feats.transpose(1, 2))
        b, t, d = h.shape
        size = self.cfg.chunk
        pad = (size - t % size) % size
        h = F.pad(h, (0, 0, 0, pad))
        s = h.shape[1] // size
        h = h.view(b, s, size, d)
        for intra, inter in zip(self.intra, self.inter):
            h = intra(h.reshape(b * s, size, d)).view(b, s, size, d)
            h = inter(h.transpose(1, 2).reshape(b * size, s, d)).view(b, size, s, d).transpose(1, 2)
        h = h.reshape(b, s * size, d)[:, :t]
        masks = torch.sigmoid(self.mask_head(h)).view(b, t, self.cfg.n_src, -1).permute(2, 0, 3, 1)
        return torch.stack([self.decoder(feats * m) for m in masks], dim=1)
