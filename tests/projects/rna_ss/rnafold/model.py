import torch
import torch.nn as nn
from einops import rearrange


class AxialAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.to_qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.out = nn.Linear(dim, dim)

    def forward(self, x, pad):
        b, l, _, d = x.shape
        rows = rearrange(x, "b i j d -> (b i) j d")
        q, k, v = (
            rearrange(t, "n j (h c) -> n h j c", h=self.heads)
            for t in self.to_qkv(rows).chunk(3, -1)
        )
        s = torch.einsum("nhic,nhjc->nhij", q, k) * (d // self.heads) ** -0.5
        key_pad = pad.repeat_interleave(l, 0)[:, None, None, :]
        s = s.masked_fill(key_pad, torch.finfo(s.dtype).min)
        o = torch.einsum("nhij,nhjc->nhic", s.softmax(-1), v)
        return x + self.out(rearrange(o, "(b i) h j c -> b i j (h c)", b=b))


class SeqEncoder(nn.Module):
    def __init__(self, in_dim, dim, heads, layers):
        super().__init__()
        self.embed = nn.Linear(in_dim, dim)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(dim, heads, 4 * dim, batch_first=True) for _ in range(layers)
        )

    def forward(self, onehot, pad):
        h = self.embed(onehot)
        for layer in self.layers:
            h = layer(h, src_key_padding_mask=pad)
        return h


class PairHead(nn.Module):
    def __init__(self, dim, heads, n_axial):
        super().__init__()
        self.pair = nn.Linear(2 * dim, dim)
        self.axial = nn.ModuleList(AxialAttention(dim, heads) for _ in range(n_axial))
        self.logit = nn.Linear(dim, 1)

    def forward(self, h, pad):
        l = h.shape[1]
        z = self.pair(
            torch.cat([h[:, :, None].expand(-1, -1, l, -1), h[:, None].expand(-1, l, -1, -1)], -1)
        )
        for blk in self.axial:
            z = blk(z, pad)
            z = blk(z.transpose(1, 2), pad).transpose(1, 2)
        logits = self.logit(z).squeeze(-1)
        return (logits + logits.transpose(-1, -2)) / 2
