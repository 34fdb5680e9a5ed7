import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class RegionPooling(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.query = nn.Linear(d, d)
        self.key = nn.Linear(d, d)

    def forward(self, regions, report_state):
        query = self.query(report_state).unsqueeze(1)
        keys = self.key(regions)
        energy = torch.bmm(query, keys.transpose(1, 2))
        weights = F.softmax(energy, dim=-1)
        return torch.bmm(weights, regions).squeeze(1)


class CrossAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.h = heads
        self.dh = d // heads
        self.q = nn.Linear(d, d)
        self.kv = nn.Linear(d, 2 * d)
        self.o = nn.Linear(d, d)

    def forward(self, x, mem, mem_mask):
        b, t, d = x.shape
        q = self.q(x).view(b, t, self.h, self.dh).transpose(1, 2).reshape(b * self.h, t, self.dh)
        k, v = self.kv(mem).chunk(2, -1)
        k = k.view(b, -1, self.h, self.dh).transpose(1, 2).reshape(b * self.h, -1, self.dh)
        v = v.view(b, -1, self.h, self.dh).transpose(1, 2).reshape(b * self.h, -1, self.dh)
        assert mem_mask.any(-1).all(), "a study has no image regions"
        bias = torch.zeros(b, mem_mask.shape[1], device=x.device, dtype=q.dtype)
        bias = bias.masked_fill(~mem_mask, float("-inf")).repeat_interleave(self.h, 0)[:, None, :]
        scores = torch.baddbmm(
            bias.expand(-1, t, -1), q, k.transpose(1, 2), alpha=1 / math.sqrt(self.dh)
        )
        out = torch.bmm(scores.softmax(-1), v)
        return self.o(out.view(b, self.h, t, self.dh).transpose(1, 2).reshape(b, t, d))


class DecoderLayer(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.cross = CrossAttention(d, heads)
        self.ff = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
        self.n1, self.n2, self.n3 = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)

    def forward(self, x, mem, mem_mask, causal):
        h = self.n1(x)
        x = x + self.self_attn(h, h, h, attn_mask=causal, need_weights=False)[0]
        x = x + self.cross(self.n2(x), mem, mem_mask)
        return x + self.ff(self.n3(x))


class ReportGenerator(nn.Module):
    def __init__(self, visual_feat_dim, d_model, n_heads, n_layers, vocab_size, max_len):
        super().__init__()
        self.visual = nn.Linear(visual_feat_dim, d_model)
        self.tok = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Embedding(max_len, d_model)
        self.layers = nn.ModuleList(DecoderLayer(d_model, n_heads) for _ in range(n_layers))
        self.pool = RegionPooling(d_model)
        self.lm_head = nn.Linear(2 * d_model, vocab_size)

    def forward(self, regions, region_mask, tokens):
        mem = self.visual(regions)
        t = tokens.shape[1]
        x = self.tok(tokens) + self.pos(torch.arange(t, device=tokens.device))
        causal = torch.triu(torch.full((t, t), float("-inf"), device=x.device), 1)
        for layer in self.layers:
            x = layer(x, mem, region_mask, causal)
        ctx = self.pool(mem, x.mean(1))
        return self.lm_head(torch.cat([x, ctx[:, None].expand_as(x)], -1))
