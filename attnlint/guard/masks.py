"""Masked copies of float32 tensors by bit operations, and the small constants they use.

On CPU, ``torch.where(keep, x, 0.0)`` and ``x.masked_fill(drop, -inf)`` with a mask that
broadcasts (a causal mask against [B, H, L, S] scores) take about 8 times as long as an
elementwise product: their kernels are not vectorised. The same results, bit for bit, come
from an ``and`` (and an ``or``) of the values' bits with an int32 mask in the mask's own
broadcast shape: ``-1`` (all bits set) keeps a value, ``0`` clears it to +0.0, and the bits
of -inf ored in where a key is dropped make it -inf. A NaN where the mask keeps it stays
NaN; anything where it drops it is replaced, as with ``where`` and ``masked_fill``. Other
dtypes, and small tensors, take the plain operations.
"""

from __future__ import annotations

import functools
import math

import torch
from torch import Tensor

_NEG_INF_BITS = -8388608  # 0xFF800000: the bits of float32 -inf, as an int32
# below this many values the plain operation's one dispatch is cheaper than the two to four
# of the bit operations
_SMALL = 1 << 14


def _keep_bits(keep: Tensor) -> Tensor:
    """bool -> int32 -1 (keep) / 0 (clear), in ``keep``'s own shape."""
    return keep.to(torch.int32).neg_()


def keep_or_zero(x: Tensor, keep: Tensor) -> Tensor:
    """``torch.where(keep, x, 0.0)``: a new tensor, ``keep`` bool broadcastable to ``x``."""
    if x.dtype != torch.float32 or x.numel() < _SMALL:
        return torch.where(keep, x, 0.0)
    return (x.view(torch.int32) & _keep_bits(keep)).view(torch.float32)


def drop_to_neg_inf(x: Tensor, drop: Tensor) -> Tensor:
    """``x.masked_fill(drop, -inf)``: a new tensor, ``drop`` bool broadcastable to ``x``."""
    if x.dtype != torch.float32 or x.numel() < _SMALL:
        return x.masked_fill(drop, -math.inf)
    keep = _keep_bits(~drop)
    fill = keep.bitwise_not().bitwise_and_(_NEG_INF_BITS)  # -inf's bits where dropped
    return (x.view(torch.int32) & keep).bitwise_or_(fill).view(torch.float32)


@functools.lru_cache(maxsize=128)
def constant(values: float | tuple[float, ...], device: torch.device, dtype: torch.dtype) -> Tensor:
    """A tensor of ``values`` (0-d for one float), made once per device and dtype: a
    Python number in tensor arithmetic is made into a tensor on every call, and an
    ``arange`` or ``full`` costs several dispatches. Never changed in place by its users."""
    with torch.inference_mode(False):
        return torch.tensor(values, device=device, dtype=dtype)


@functools.lru_cache(maxsize=8)
def causal_drop(lq: int, lk: int, device: torch.device) -> Tensor:
    """bool [lq, lk]: the keys a causal mask drops (above the diagonal), made once."""
    with torch.inference_mode(False):
        return torch.ones(lq, lk, dtype=torch.bool, device=device).triu(1)
