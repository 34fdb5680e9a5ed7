"""Small attention models of several families for the guard tests, with ways to break them.

Each family provides ``make()`` (a fresh, healthy, seeded model), ``batch()`` (inputs as a
(args, kwargs) pair), the site where a pathology must be reported, and ``one_hot(model)``
(scale the query/key projections up until attention is one-hot).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

D = 16


class SetAttention(nn.Module):
    """The seed's pooling: MHA with a masked-mean query, and a data-dependent fallback."""

    def __init__(self, dim: int, heads: int = 2) -> None:
        super().__init__()
        self.mha = nn.MultiheadAttention(dim, heads, dropout=0.1, batch_first=True)

    def forward(self, z: Tensor, mask: Tensor) -> Tensor:
        m = mask.float()[..., None]
        q = (z * m).sum(1, keepdim=True) / m.sum(1, keepdim=True).clamp_min(1)
        pooled, weights = self.mha(q, z, z, key_padding_mask=~mask, need_weights=True)
        attn_valid = (weights.squeeze(1) * mask).sum()
        if attn_valid < 1e-6:  # the seed's fallback branch: tensor-valued control flow
            pooled = q
        return pooled.squeeze(1)


class SetRank(nn.Module):
    """encoder -> SetAttention -> scorer, one score per team of players (seed 000)."""

    def __init__(self, stat_dim: int = 6, dim: int = D) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(stat_dim, dim), nn.ReLU(), nn.Linear(dim, dim))
        self.attention = SetAttention(dim)
        self.scorer = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, 1))

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        n, t, p, f = x.shape
        z = self.encoder(x.reshape(n * t, p, f))
        pooled = self.attention(z, mask.reshape(n * t, p))
        return self.scorer(pooled).reshape(n, t)


class Encoder(nn.Module):
    """A stock nn.TransformerEncoder (does not survive symbolic_trace)."""

    def __init__(self, in_dim: int = 6, dim: int = D, layers: int = 2) -> None:
        super().__init__()
        self.embed = nn.Linear(in_dim, dim)
        layer = nn.TransformerEncoderLayer(
            dim, 4, dim_feedforward=2 * dim, dropout=0.1, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(dim, 1)

    def forward(self, x: Tensor, key_padding_mask: Tensor | None = None) -> Tensor:
        h = self.encoder(self.embed(x), src_key_padding_mask=key_padding_mask)
        return self.head(h).squeeze(-1)


class CausalBlock(nn.Module):
    """Hand-written softmax(q @ k^T / sqrt(d)) with a causal mask and a residual."""

    def __init__(self, dim: int = D) -> None:
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.drop = nn.Dropout(0.1)

    def forward(self, x: Tensor, pad: Tensor | None = None) -> Tensor:
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        n = x.shape[1]
        causal = torch.ones(n, n, dtype=torch.bool, device=x.device).triu(1)
        scores = scores.masked_fill(causal, float("-inf"))
        if pad is not None:
            scores = scores.masked_fill(pad[:, None, :], float("-inf"))
        attn = self.drop(torch.softmax(scores, dim=-1))
        return x + self.proj(attn @ v)


class CausalLM(nn.Module):
    def __init__(self, in_dim: int = 6, dim: int = D) -> None:
        super().__init__()
        self.embed = nn.Linear(in_dim, dim)
        self.block = CausalBlock(dim)
        self.head = nn.Linear(dim, 1)

    def forward(self, x: Tensor, pad: Tensor | None = None) -> Tensor:
        return self.head(self.block(self.embed(x), pad)).squeeze(-1)


class SDPABlock(nn.Module):
    def __init__(self, dim: int = D, heads: int = 2) -> None:
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: Tensor, keep: Tensor | None = None) -> Tensor:
        b, n, d = x.shape
        h = self.heads

        def split(t: Tensor) -> Tensor:
            return t.view(b, n, h, d // h).transpose(1, 2)

        mask = None if keep is None else keep[:, None, None, :]
        y = F.scaled_dot_product_attention(
            split(self.q(x)),
            split(self.k(x)),
            split(self.v(x)),
            attn_mask=mask,
            dropout_p=0.1 if self.training else 0.0,
        )
        return x + self.out(y.transpose(1, 2).reshape(b, n, d))


class SDPAModel(nn.Module):
    def __init__(self, in_dim: int = 6, dim: int = D) -> None:
        super().__init__()
        self.embed = nn.Linear(in_dim, dim)
        self.block = SDPABlock(dim)
        self.head = nn.Linear(dim, 1)

    def forward(self, x: Tensor, keep: Tensor | None = None) -> Tensor:
        return self.head(self.block(self.embed(x), keep)).squeeze(-1)


@dataclass
class Family:
    name: str
    make: Callable[[], nn.Module]
    batch: Callable[[], tuple[tuple, dict]]
    site: str  # where pathologies must be reported
    one_hot: Callable[[nn.Module], None]
    embed: Callable[[nn.Module], nn.Linear]  # first layer: zero it for a constant encoder
    mask_all: Callable[[tuple, dict], tuple[tuple, dict]]  # fully mask one row


def _seeded(cls: type[nn.Module]) -> Callable[[], nn.Module]:
    def make() -> nn.Module:
        torch.manual_seed(0)
        return cls()

    return make


def _x(*shape: int) -> Tensor:
    g = torch.Generator().manual_seed(1)
    return torch.randn(*shape, generator=g)


def _set_batch() -> tuple[tuple, dict]:
    x = _x(3, 4, 5, 6)
    mask = torch.ones(3, 4, 5, dtype=torch.bool)
    mask[:, :, 4] = False  # one padded player per team
    mask[0, 0, 3] = False
    return (x, mask), {}


def _set_mask_all(args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    x, mask = args
    mask = mask.clone()
    mask[1, 2] = False
    return (x, mask), kwargs


def _seq_batch() -> tuple[tuple, dict]:
    return (_x(4, 10, 6),), {}


def _pad_all(kind: str) -> Callable[[tuple, dict], tuple[tuple, dict]]:
    def f(args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        (x,) = args
        if kind == "padding":  # True = ignore
            m = torch.zeros(x.shape[0], x.shape[1], dtype=torch.bool)
            m[1] = True
            return (x, m), kwargs
        keep = torch.ones(x.shape[0], x.shape[1], dtype=torch.bool)
        keep[1] = False
        return (x, keep), kwargs

    return f


def _scale_mha(mha: nn.MultiheadAttention, factor: float = 300.0) -> None:
    e = mha.embed_dim
    with torch.no_grad():
        mha.in_proj_weight[: 2 * e] *= factor


def _one_hot_set(m: nn.Module) -> None:
    _scale_mha(m.attention.mha)


def _one_hot_encoder(m: nn.Module) -> None:
    for layer in m.encoder.layers:
        _scale_mha(layer.self_attn)


def _one_hot_causal(m: nn.Module) -> None:
    with torch.no_grad():
        m.block.qkv.weight[: 2 * D] *= 300.0


def _one_hot_sdpa(m: nn.Module) -> None:
    with torch.no_grad():
        m.block.q.weight *= 300.0
        m.block.k.weight *= 300.0


FAMILIES = [
    Family(
        "set",
        _seeded(SetRank),
        _set_batch,
        "attention.mha",
        _one_hot_set,
        lambda m: m.encoder[0],
        _set_mask_all,
    ),
    Family(
        "encoder",
        _seeded(Encoder),
        _seq_batch,
        "encoder.layers.0.self_attn",
        _one_hot_encoder,
        lambda m: m.embed,
        _pad_all("padding"),
    ),
    Family(
        "causal",
        _seeded(CausalLM),
        _seq_batch,
        "block",
        _one_hot_causal,
        lambda m: m.embed,
        _pad_all("padding"),
    ),
    Family(
        "sdpa",
        _seeded(SDPAModel),
        _seq_batch,
        "block",
        _one_hot_sdpa,
        lambda m: m.embed,
        _pad_all("keep"),
    ),
]


def constant_encoder(fam: Family, model: nn.Module) -> None:
    with torch.no_grad():
        lin = fam.embed(model)
        lin.weight.zero_()
        lin.bias.fill_(0.5)


def nan_input(args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    x = args[0].clone()
    x[0, 0] = float("nan")
    return (x, *args[1:]), kwargs


def first_output(out: Any) -> Tensor:
    return out[0] if isinstance(out, tuple) else out
