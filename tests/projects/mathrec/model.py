import torch
import torch.nn as nn
import torch.nn.functional as F


def masked_logits(e, point_mask):
    return e.masked_fill(~point_mask, float("-inf"))


class PointEncoderLayer(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.scale = (d // heads) ** -0.5
        self.qkv = nn.Linear(d, 3 * d)
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x, point_mask):
        b, n, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        s = torch.matmul(q, k.transpose(-1, -2)) * self.scale
        s = s.masked_fill(~point_mask[:, None, None, :], torch.finfo(s.dtype).min)
        x = x + (s.softmax(-1) @ v).transpose(1, 2).reshape(b, n, d)
        return x + self.ff(self.ln2(x))


class CoverageAttention(nn.Module):
    def __init__(self, d, hidden, kernel):
        super().__init__()
        self.W = nn.Linear(hidden, d)
        self.U = nn.Linear(d, d)
        self.cov = nn.Conv1d(1, d, kernel, padding=kernel // 2)
        self.v = nn.Linear(d, 1)

    def forward(self, h, enc, point_mask, coverage):
        cov = self.cov(coverage.unsqueeze(1)).transpose(1, 2)
        e = self.v(torch.tanh(self.W(h)[:, None] + self.U(enc) + cov)).squeeze(-1)
        alpha = F.softmax(masked_logits(e, point_mask), dim=-1)
        return (alpha.unsqueeze(-1) * enc).sum(1), alpha


class OnlineWAP(nn.Module):
    """Watch-Attend-Parse for online strokes: encoder over pen points, GRU decoder emitting LaTeX."""

    def __init__(self, mcfg):
        super().__init__()
        self.inp = nn.Linear(mcfg.n_stroke_features, mcfg.d_model)
        self.enc = nn.ModuleList(
            PointEncoderLayer(mcfg.d_model, mcfg.heads) for _ in range(mcfg.enc_layers)
        )
        self.emb = nn.Embedding(mcfg.vocab_size, mcfg.d_model)
        self.gru = nn.GRUCell(2 * mcfg.d_model, mcfg.dec_hidden)
        self.att = CoverageAttention(mcfg.d_model, mcfg.dec_hidden, mcfg.coverage_kernel)
        self.out = nn.Linear(mcfg.dec_hidden + mcfg.d_model, mcfg.vocab_size)
        self.h0 = nn.Linear(mcfg.d_model, mcfg.dec_hidden)

    def forward(self, points, point_mask, tgt_in):
        x = self.inp(points)
        for layer in self.enc:
            x = layer(x, point_mask)
        m = point_mask.unsqueeze(-1).float()
        h = torch.tanh(self.h0((x * m).sum(1) / m.sum(1).clamp(min=1.0)))
        coverage = torch.zeros(points.shape[:2], device=points.device)
        ctx = torch.zeros_like(x[:, 0])
        logits = []
        for t in range(tgt_in.shape[1]):
            h = self.gru(torch.cat([self.emb(tgt_in[:, t]), ctx], -1), h)
            ctx, alpha = self.att(h, x, point_mask, coverage)
            coverage = coverage + alpha
            logits.append(self.out(torch.cat([h, ctx], -1)))
        return torch.stack(logits, 1)
