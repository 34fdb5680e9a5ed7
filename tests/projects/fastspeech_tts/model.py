import math

import torch
import torch.nn as nn


def key_padding_fill(scores, pad_mask):
    return scores.masked_fill(pad_mask[:, None, None, :], float("-inf"))


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, n_head, dropout=0.1):
        super().__init__()
        self.n_head, self.d_k = n_head, d_model // n_head
        self.w_qkv = nn.Linear(d_model, 3 * d_model)
        self.fc = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, pad_mask):
        b, t, _ = x.shape
        q, k, v = self.w_qkv(x).view(b, t, 3, self.n_head, self.d_k).permute(2, 0, 3, 1, 4)
        scores = torch.einsum("bhid,bhjd->bhij", q, k) / math.sqrt(self.d_k)
        attn = torch.softmax(key_padding_fill(scores, pad_mask), dim=-1)
        out = torch.einsum("bhij,bhjd->bhid", self.dropout(attn), v)
        return self.fc(out.transpose(1, 2).reshape(b, t, -1))


class FFTBlock(nn.Module):
    def __init__(self, d_model, n_head, d_inner, kernel=9, dropout=0.1):
        super().__init__()
        self.attn = MultiHeadAttention(d_model, n_head, dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.conv = nn.Sequential(
            nn.Conv1d(d_model, d_inner, kernel, padding=kernel // 2),
            nn.ReLU(),
            nn.Conv1d(d_inner, d_model, 1),
        )
        self.norm2 = nn.LayerNorm(d_model)

    def forward(self, x, pad_mask):
        x = self.norm1(x + self.attn(x, pad_mask))
        x = self.norm2(x + self.conv(x.transpose(1, 2)).transpose(1, 2))
        return x.masked_fill(pad_mask.unsqueeze(-1), 0.0)


class VariancePredictor(nn.Module):
    def __init__(self, d_model, d_hidden=256):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(d_model, d_hidden, 3, padding=1),
            nn.ReLU(),
            nn.Conv1d(d_hidden, d_hidden, 3, padding=1),
            nn.ReLU(),
        )
        self.out = nn.Linear(d_hidden, 1)

    def forward(self, x, pad_mask):
        return (
            self.out(self.net(x.transpose(1, 2)).transpose(1, 2))
            .squeeze(-1)
            .masked_fill(pad_mask, 0.0)
        )


def length_regulate(x, durations):
    out = [torch.repeat_interleave(seq, d, dim=0) for seq, d in zip(x, durations)]
    lens = torch.tensor([o.shape[0] for o in out], device=x.device)
    return nn.utils.rnn.pad_sequence(out, batch_first=True), lens


class FastSpeech(nn.Module):
    def __init__(self, n_symbols, n_mels=80, d_model=256, n_head=2, n_layers=4):
        super().__init__()
        self.embed = nn.Embedding(n_symbols, d_model, padding_idx=0)
        self.encoder = nn.ModuleList(FFTBlock(d_model, n_head, 1024) for _ in range(n_layers))
        self.decoder = nn.ModuleList(FFTBlock(d_model, n_head, 1024) for _ in range(n_layers))
        self.duration = VariancePredictor(d_model)
        self.mel = nn.Linear(d_model, n_mels)

    def forward(self, phonemes, durations=None):
        src_pad = phonemes == 0
        h = self.embed(phonemes)
        for blk in self.encoder:
            h = blk(h, src_pad)
        log_dur = self.duration(h, src_pad)
        if durations is None:
            durations = torch.clamp(torch.round(torch.exp(log_dur) - 1), min=0).long()
        h, mel_lens = length_regulate(h, durations)
        mel_pad = torch.arange(h.shape[1], device=h.device)[None, :] >= mel_lens[:, None]
        for blk in self.decoder:
            h = blk(h, mel_pad)
        return self.mel(h), log_dur, mel_pad
