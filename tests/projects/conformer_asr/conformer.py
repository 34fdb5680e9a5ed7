import math

import torch
import torch.nn as nn


class RelPositionMHA(nn.Module):
    def __init__(self, d_model, n_head):
        super().__init__()
        self.h = n_head
        self.d_k = d_model // n_head
        self.linear_q = nn.Linear(d_model, d_model)
        self.linear_k = nn.Linear(d_model, d_model)
        self.linear_v = nn.Linear(d_model, d_model)
        self.linear_pos = nn.Linear(d_model, d_model, bias=False)
        self.pos_bias_u = nn.Parameter(torch.zeros(n_head, self.d_k))
        self.linear_out = nn.Linear(d_model, d_model)

    def forward(self, x, pos_emb, mask):
        b, t, _ = x.shape
        q = self.linear_q(x).view(b, t, self.h, self.d_k)
        k = self.linear_k(x).view(b, t, self.h, self.d_k).transpose(1, 2)
        v = self.linear_v(x).view(b, t, self.h, self.d_k).transpose(1, 2)
        p = self.linear_pos(pos_emb).view(1, -1, self.h, self.d_k).transpose(1, 2)
        q_u = (q + self.pos_bias_u).transpose(1, 2)
        matrix_ac = torch.matmul(q_u, k.transpose(-2, -1))
        matrix_bd = torch.matmul(q_u, p.transpose(-2, -1))
        scores = (matrix_ac + matrix_bd) / math.sqrt(self.d_k)
        scores = scores.masked_fill(mask.unsqueeze(1) == 0, torch.finfo(scores.dtype).min)
        attn = torch.softmax(scores, dim=-1)
        return self.linear_out(torch.matmul(attn, v).transpose(1, 2).reshape(b, t, -1))


class LocalMHA(nn.Module):
    def __init__(self, d_model, n_head):
        super().__init__()
        self.h = n_head
        self.d_k = d_model // n_head
        self.scale = self.d_k**-0.5
        self.qkv = nn.Linear(d_model, 3 * d_model)

    def _attend(self, q, k, v, mask):
        s = torch.matmul(q, k.transpose(-2, -1))
        s = s.masked_fill(~mask, float("-inf"))
        a = s.softmax(-1)
        a = a.masked_fill(~mask, 0.0)
        return torch.matmul(a, v)

    def _attend_chunk(self, q, k, v):
        s = q @ k.transpose(-2, -1)
        return s.softmax(-1) @ v

    def forward(self, x, mask, chunk=False):
        b, t, _ = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.h, self.d_k).permute(2, 0, 3, 1, 4)
        if chunk:
            out = self._attend_chunk(q, k, v)
        else:
            out = self._attend(q * self.scale, k, v, mask[:, None, None, :])
        return out.transpose(1, 2).reshape(b, t, -1)


class Conformer(nn.Module):
    def __init__(self, n_mels, d_model=144, n_head=4, vocab=128):
        super().__init__()
        self.subsample = nn.Conv1d(n_mels, d_model, 3, stride=2)
        self.rel = RelPositionMHA(d_model, n_head)
        self.local = LocalMHA(d_model, n_head)
        self.out = nn.Linear(d_model, vocab)

    def forward(self, feats, pos_emb, mask):
        x = self.subsample(feats.transpose(1, 2)).transpose(1, 2)
        mask = mask[:, ::2][:, : x.size(1)]
        x = x + self.rel(x, pos_emb, mask) + self.local(x, mask)
        return self.out(x)
