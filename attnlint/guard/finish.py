"""The last arithmetic of an attention site's statistics, on 0-d tensors or host floats.

A site's statistics end in a few dozen operations on single numbers (a mean divided by a
count, a standard deviation from two sums, a NaN where no row counts). On a small site
each of them costs a torch call's fixed few microseconds, as much as a pass over the
probabilities. So ``attnstats`` hands over the reductions (``raw``, 0-d tensors) and a
``Finish`` that turns them into the statistics: the guard reads the raw values with the
step's one host sync and finishes on the host, where such an operation costs a tenth of a
microsecond; ``attention_stats`` finishes on the device, with the same formulas. The
helpers here give IEEE results for floats as torch does for tensors (0 / 0 is NaN, x / 0
is +-inf, the square root of a negative number is NaN), where Python would raise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

Num = Any  # a 0-d tensor or a float: the formulas below take either
Finish = Callable[[Mapping[str, Num]], dict[str, Num]]


def div(a: Num, b: Num) -> Num:
    if isinstance(a, Tensor) or isinstance(b, Tensor) or b != 0:
        return a / b
    if a == 0 or a != a:
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


def sqrt(a: Num) -> Num:
    if isinstance(a, Tensor):
        return a.sqrt()
    return math.sqrt(a) if a >= 0 else math.nan  # NaN >= 0 is False: NaN stays NaN


def clamp_min(a: Num, low: float) -> Num:
    if isinstance(a, Tensor):
        return a.clamp_min(low)
    return a if a != a or a >= low else low


def where(cond: Num, a: Num, b: Num) -> Num:
    if isinstance(cond, Tensor):
        if not isinstance(a, Tensor):
            a = torch.full((), a, dtype=torch.float32, device=cond.device)
        return torch.where(cond, a, b)
    return a if cond else b


def nan_unless(x: Num, mean: Num) -> Num:
    """``x``, or NaN where ``mean`` is NaN (a mean over no rows)."""
    return x + mean * 0


def finish_logits(raw: Mapping[str, Num], lk: int) -> dict[str, Num]:
    """Mean, std and saturation of the logits from the per-row means over the ``n_rows``
    good sampled rows, and the largest logit; NaN where no row counts (``mass``)."""
    row_sum, row_sq = raw["~lsum"], raw["~lsq"]
    keys = raw.get("~lnv", lk)  # mean keys per row
    n_rows = raw["~lrows"]
    mean = div(row_sum, keys)
    cnt = n_rows * keys
    # unbiased variance from the sum of squares (the sums are the means times n_rows)
    var = div((row_sq - row_sum * mean) * n_rows, clamp_min(cnt - 1, 1))
    return {
        "logit_mean": mean,
        "logit_std": where(cnt > 1, sqrt(clamp_min(var, 0)), math.nan),
        "logit_saturation": div(raw["~above"], keys),
        "logit_max": nan_unless(raw["~lmax"], raw["mass"]),
    }


def finish_sinks(raw: Mapping[str, Num], lk: int, masked: bool) -> dict[str, Num]:
    """The sink statistics from the largest normalised column share (``~sink``), its flat
    index (``~sink_at``) and, with a mask, its lift and whether any key counts."""
    best, flat = raw["~sink"], raw["~sink_at"]
    key, head = flat % lk, flat // lk
    if not masked:
        any_rows = raw["max_row_weight"]
        return {
            "sink_mass": nan_unless(best, any_rows),
            "sink_lift": nan_unless(best * lk, any_rows),
            "sink_key": nan_unless(key, any_rows),
            "sink_head": nan_unless(head, any_rows),
        }
    some = raw["~sink_any"]
    some = some > 0 if not isinstance(some, Tensor) else some
    return {
        "sink_mass": where(some, best, math.nan),
        "sink_lift": where(some, raw["~sink_lift"], math.nan),
        "sink_key": where(some, key, math.nan),
        "sink_head": where(some, head, math.nan),
    }


@dataclass(frozen=True)
class Ratio:
    """A statistic that ends in one division: ``num ** power / max(den ** power, floor)``,
    NaN unless ``use``. The guard reads the parts with the step's other values and divides
    on the host; ``value()`` divides on the device."""

    num: Tensor
    den: Tensor
    floor: float
    power: int = 1
    use: Tensor | None = None

    def parts(self) -> list[Tensor]:
        return [self.num, self.den] if self.use is None else [self.num, self.den, self.use]

    def finish(self, num: Num, den: Num, use: Num = True) -> Num:
        if self.power != 1:
            num, den = num**self.power, den**self.power
        return where(use, div(num, clamp_min(den, self.floor)), math.nan)

    def value(self) -> Tensor:
        return self.finish(*self.parts())
