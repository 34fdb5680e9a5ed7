import torch
import torch.nn as nn


def attend(q, k, v, bias=None):
    s = q @ k.transpose(-2, -1)
    if bias is not None:
        s = s + bias
    return torch.softmax(s, dim=-1) @ v


class MHA(nn.Module):
    def __init__(self, d_model, n_heads, causal=False):
        super().__init__()
        self.h = n_heads
        self.dk = d_model // n_heads
        self.scaling = self.dk**-0.5
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.o_proj = nn.Linear(d_model, d_model)
        self.causal = causal

    def _shape(self, x):
        b, n, _ = x.shape
        return x.view(b, n, self.h, self.dk).transpose(1, 2)

    def forward(self, x, mem=None, pad=None):
        src = x if mem is None else mem
        q = self._shape(self.q_proj(x) * self.scaling)
        k, v = self._shape(self.k_proj(src)), self._shape(self.v_proj(src))
        bias = None
        if pad is not None:
            bias = torch.zeros_like(pad, dtype=q.dtype).masked_fill(pad, -1e9)[:, None, None, :]
        if self.causal:
            n = x.shape[1]
            tri = torch.triu(torch.ones(n, n, dtype=torch.bool, device=x.device), 1)
            bias = torch.zeros(n, n, device=x.device).masked_fill(tri, float("-inf"))
        y = attend(q, k, v, bias)
        return self.o_proj(y.transpose(1, 2).flatten(2))


class CopyGate(nn.Module):
    def __init__(self, d_model):
        super().__init__()
        self.q = nn.Linear(d_model, d_model)
        self.k = nn.Linear(d_model, d_model)
        self.gate = nn.Linear(2 * d_model, 1)

    def forward(self, dec, cells, cell_pad):
        q, k = self.q(dec), self.k(cells)
        v = cells[:, None].expand(-1, q.shape[1], -1, -1)
        ptr = attend(q[:, :, None, :], k[:, None], v).squeeze(2)
        g = torch.sigmoid(self.gate(torch.cat([dec, ptr], -1)))
        return g, ptr
