import torch
from einops import rearrange
from torch import nn


class AxialAttention(nn.Module):
    """Row then column attention over the L x L pair representation."""

    def __init__(self, pair_dim, heads=4, dim_head=32):
        super().__init__()
        self.heads = heads
        self.scale = dim_head**-0.5
        inner = heads * dim_head
        self.row_qkv = nn.Linear(pair_dim, 3 * inner, bias=False)
        self.col_qkv = nn.Linear(pair_dim, 3 * inner, bias=False)
        self.row_out = nn.Linear(inner, pair_dim)
        self.col_out = nn.Linear(inner, pair_dim)

    def attend(self, q, k, v, mask):
        sim = torch.einsum("b h i d, b h j d -> b h i j", q, k)
        sim = sim.masked_fill(~mask[:, None, None, :], torch.finfo(sim.dtype).min)
        attn = sim.softmax(dim=-1)
        return torch.einsum("b h i j, b h j d -> b h i d", attn, v)

    def forward(self, pair, res_mask):
        b, n = pair.shape[:2]
        h = self.heads
        q, k, v = self.row_qkv(pair).chunk(3, dim=-1)
        q, k, v = (rearrange(t, "b r c (h d) -> (b r) h c d", h=h) for t in (q, k, v))
        m = res_mask.repeat_interleave(n, dim=0)
        rows = self.attend(q, k, v, m)
        pair = pair + self.row_out(rearrange(rows, "(b r) h c d -> b r c (h d)", b=b))
        q, k, v = self.col_qkv(pair).chunk(3, dim=-1)
        q, k, v = (rearrange(t, "b r c (h d) -> (b c) h r d", h=h) for t in (q, k, v))
        cols = self.attend(q * self.scale, k, v, m)
        return pair + self.col_out(rearrange(cols, "(b c) h r d -> b r c (h d)", b=b))


class ContactPredictor(nn.Module):
    def __init__(self, input_dim, pair_dim=64, depth=4, heads=4):
        super().__init__()
        self.proj = nn.Linear(input_dim, pair_dim // 2)
        self.pair_feat = nn.Linear(pair_dim + 17, pair_dim)
        self.blocks = nn.ModuleList(AxialAttention(pair_dim, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(pair_dim)
        self.to_logits = nn.Linear(pair_dim, 1)

    def forward(self, emb, pair_extra, res_mask):
        x = self.proj(emb)
        n = x.shape[1]
        pair = torch.cat(
            [x[:, :, None].expand(-1, -1, n, -1), x[:, None].expand(-1, n, -1, -1)], -1
        )
        pair = self.pair_feat(torch.cat([pair, pair_extra], -1))
        for blk in self.blocks:
            pair = blk(pair, res_mask)
        logits = self.to_logits(self.norm(pair)).squeeze(-1)
        return 0.5 * (logits + logits.transpose(1, 2))
