import torch
from torch import nn


def masked_policy_logits(logits, legal):
    return logits.masked_fill(~legal, float("-inf"))


class SquareAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.scale = self.head_dim**-0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.rel_bias = nn.Parameter(torch.zeros(heads, 64, 64))

    def forward(self, x):
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        attn = torch.softmax(q @ k.transpose(-2, -1) + self.rel_bias, dim=-1)
        out = (attn @ v) * self.scale
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class PolicyHead(nn.Module):
    """Move logits as from-square x to-square attention, as in Lc0's attention policy."""

    def __init__(self, dim, d_policy=64):
        super().__init__()
        self.wq = nn.Linear(dim, d_policy)
        self.wk = nn.Linear(dim, d_policy)
        self.d_policy = d_policy

    def forward(self, x):
        q, k = self.wq(x), self.wk(x)
        logits = torch.baddbmm(
            torch.zeros(1, 1, 1, device=x.device),
            q,
            k.transpose(1, 2),
            beta=0.0,
            alpha=self.d_policy**-0.5,
        )
        return logits.flatten(1)


class ChessNet(nn.Module):
    def __init__(self, in_channels, dim=256, depth=8, heads=8):
        super().__init__()
        self.embed = nn.Linear(in_channels, dim)
        self.pos = nn.Parameter(torch.zeros(1, 64, dim))
        self.blocks = nn.ModuleList(
            nn.ModuleDict(
                {
                    "ln1": nn.LayerNorm(dim),
                    "attn": SquareAttention(dim, heads),
                    "ln2": nn.LayerNorm(dim),
                    "mlp": nn.Sequential(
                        nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim)
                    ),
                }
            )
            for _ in range(depth)
        )
        self.policy = PolicyHead(dim)
        self.value = nn.Sequential(nn.Linear(dim, 128), nn.GELU(), nn.Linear(128, 3))

    def forward(self, planes):
        x = self.embed(planes.flatten(2).transpose(1, 2)) + self.pos
        for blk in self.blocks:
            x = x + blk["attn"](blk["ln1"](x))
            x = x + blk["mlp"](blk["ln2"](x))
        return {"policy": self.policy(x), "wdl": self.value(x.mean(1))}
