"""Seed-003 statistics of one attention site, reduced to 0-d tensors on the device.

The statistics of the attention probabilities are in ``attnlint.guard.attnstats``
(written for the number of torch calls) and re-exported here. Nothing here syncs with the
host: every function returns 0-d tensors that the guard stacks and reads with a single
``.tolist()`` per sampled step. Rows (queries) and keys that a mask excludes never enter a
statistic."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping

import torch
from torch import Tensor

from attnlint.guard.attnstats import attention_parts as attention_parts  # re-exported
from attnlint.guard.attnstats import attention_stats as attention_stats
from attnlint.guard.finish import Finish, Num, Ratio, clamp_min, div, sqrt, where
from attnlint.guard.masks import constant

# keys of the dicts returned here, in the order the guard stacks them
ROW_STATS = (
    "entropy",
    "normalized_entropy",
    "effective_rank",
    "top5",
    "top10",
    "top50",
    "max_row_weight",
    "col_entropy",
    "max_col_sum",
    "mass",
    "mass_min",
    "nan_rows",
    "masked_rows",
    "n_valid",
    "uniform_gap",
    "sink_mass",
    "sink_lift",
    "sink_key",
    "sink_head",
)
LOGIT_STATS = ("logit_mean", "logit_std", "logit_saturation", "logit_max")
_TINY = 1e-30


def relative_variance(x: Tensor, dim: int, valid: Tensor | None = None) -> Tensor:
    """var(x along ``dim``) / mean(x**2): 0 for a constant (or all-zero) tensor, scale-free.

    ``valid`` (bool, x's shape without the feature dim) marks the positions that count;
    only slices with >= 2 valid positions contribute.
    """
    return relative_variance_parts(x, dim, valid).value()


def relative_variance_parts(x: Tensor, dim: int, valid: Tensor | None = None) -> Ratio:
    """``relative_variance`` before its last division (``finish.Ratio``)."""
    x = x.float()
    if valid is None:
        # every slice has the same positions: sum over slices of var / sum of mean(x**2) is
        # ||x - mean||^2 / ||x||^2 (the positions per slice cancel), two norms and no masks;
        # the clamp is the one of mean(x**2) at tiny, scaled by the same count
        if x.shape[dim] < 2 or x.numel() == 0:  # no slice with two positions
            nan = constant(math.nan, x.device, torch.float32)
            return Ratio(nan, nan, _TINY)
        d = x - x.mean(dim, keepdim=True)
        norm = torch.linalg.vector_norm
        return Ratio(norm(d), norm(x), x.shape[dim] * _TINY, power=2)
    m = valid.to(x.dtype)[..., None]
    xm = x * m
    cnt = m.sum(dim, keepdim=True)
    c1 = cnt.clamp_min(1)
    mean = xm.sum(dim, keepdim=True) / c1
    d = (x - mean).mul_(m)
    use = cnt >= 2
    u = use / c1  # per slice: 1 / count where it counts, else 0
    # sum over slices of var and of mean(x**2): the per-slice sums of squares, weighted
    num = (d.square_().sum(dim, keepdim=True) * u).sum()
    den = (xm.square_().sum(dim, keepdim=True) * u).sum()
    return Ratio(num, den, _TINY, use=use.any())


def position_variance(x: Tensor, valid: Tensor | None = None) -> Tensor:
    """``relative_variance`` across positions for an input of any rank >= 2: dim -2 is the
    position axis of [B, L, E] sequences, [B, H, L, d] multi-head queries and keys, and the
    first spatial axis of [B, C, H, W] feature maps (every other axis is a separate slice).
    """
    return position_variance_parts(x, valid).value()


def position_variance_parts(x: Tensor, valid: Tensor | None = None) -> Ratio:
    if x.dim() < 2:
        nan = constant(math.nan, x.device, torch.float32)
        return Ratio(nan, nan, _TINY)
    if valid is not None and valid.shape != x.shape[:-1]:
        valid = None
    return relative_variance_parts(x, dim=x.dim() - 2, valid=valid)


def score_parts(scores: Tensor, valid: Tensor | None) -> tuple[dict[str, Tensor], Finish]:
    """Statistics of the valid scores handed to ``check_scores`` (lists on the last dim;
    ``valid`` None: every score), as reductions and the ``Finish`` that makes them."""
    fs = scores if scores.dtype == torch.float32 else scores.float()
    lists = fs.reshape(-1, fs.shape[-1]) if fs.dim() else fs.reshape(1, 1)
    ok = lists.abs() < math.inf  # finite: NaN compares false
    raw: dict[str, Tensor] = {}
    if valid is not None:
        v = valid if valid.dtype == torch.bool else valid.to(torch.bool)
        v = (
            v.reshape(lists.shape)
            if v.shape == fs.shape
            else v.expand(fs.shape).reshape(-1, fs.shape[-1])
        )
        ok = ok & v
        raw["~given"] = v.sum()
    # masked_fill, not where: a where with a constant is three dispatches
    out = ~ok
    n_ok = ok.sum()
    mean = lists.masked_fill(out, 0.0).sum() / n_ok.clamp_min(1)
    # per list, the smallest valid score and minus the largest, in one reduction
    ext = torch.stack([lists.masked_fill(out, math.inf), lists.neg().masked_fill_(out, math.inf)])
    ext = ext.amin(-1)  # [2, lists]: +inf for a list without a valid score
    lo, neg_hi = ext.amin(-1).unbind()
    centred = (lists - mean).masked_fill_(out, 0.0)
    raw.update({"~ok": n_ok, "score_mean": mean, "~lo": lo, "~neg_hi": neg_hi})
    # smallest minus largest per list: <= 0 with a valid score, +inf without; its minimum
    # is minus the largest spread (lists of one score give 0, which never exceeds it)
    raw["~neg_spread"] = ext.sum(0).amin()
    raw["~most"] = ok.sum(-1).amax()  # the most valid scores in a list
    raw["~norm"] = torch.linalg.vector_norm(centred)
    return raw, functools.partial(_finish_scores, total=lists.numel(), empty=not fs.numel())


def _finish_scores(raw: Mapping[str, Num], total: int, empty: bool) -> dict[str, Num]:
    n_ok = raw["~ok"]
    lo, neg_hi = raw["~lo"], raw["~neg_hi"]
    low = where(lo < neg_hi, lo, neg_hi)  # min(smallest, -largest)
    return {
        "score_nonfinite": raw.get("~given", total) - n_ok,
        "score_min": lo,
        "score_max": -neg_hi,
        "score_mean": raw["score_mean"],
        "score_std": div(raw["~norm"], sqrt(clamp_min(n_ok, 1))),
        # max(largest, -smallest), 0 without a valid score
        "score_abs_max": math.nan if empty else clamp_min(-low, 0),
        "score_spread_max": where(raw["~most"] >= 2, -raw["~neg_spread"], math.nan),
    }


def score_stats(scores: Tensor, valid: Tensor | None) -> dict[str, Tensor]:
    """``score_parts``' statistics as 0-d tensors, finished on the device."""
    raw, finish = score_parts(scores, valid)
    return on_device(finish(raw), raw["score_mean"])


def on_device(values: Mapping[str, Num], like: Tensor) -> dict[str, Tensor]:
    """Finished statistics as float 0-d tensors on ``like``'s device (constants made once)."""
    return {
        k: v.to(like.dtype)
        if isinstance(v, Tensor)
        else constant(float(v), like.device, like.dtype)
        for k, v in values.items()
    }


def residual_ratio(out: Tensor, inp: Tensor, valid: Tensor | None = None) -> Tensor:
    """||block(x) - x|| / ||x|| over the valid positions."""
    return residual_parts(out, inp, valid).value()


def residual_parts(out: Tensor, inp: Tensor, valid: Tensor | None = None) -> Ratio:
    x = inp.float()
    d = out.float() - x
    if valid is not None:
        m = valid.to(d.dtype)[..., None]
        d, x = d.mul_(m), x * m
    norm = torch.linalg.vector_norm
    return Ratio(norm(d), norm(x), _TINY)


def nonfinite(*tensors: Tensor) -> Tensor:
    """0-d bool tensor: any NaN or inf in any floating tensor given."""
    # x * 0 is 0 for a finite x and NaN for NaN and inf, so the sum is NaN exactly when a
    # value is not finite (no overflow); 10x cheaper on CPU than isfinite(t).all(). The
    # same tensor twice (a self-attention's query and key) is read once, and the sums of
    # several add up before the one comparison (NaN + anything is NaN)
    seen: set[int] = set()
    sums: list[Tensor] = []
    for t in tensors:
        if t.is_floating_point() and t.numel() and id(t) not in seen:
            seen.add(id(t))
            sums.append((t * 0).sum())
    if not sums:
        return torch.zeros((), dtype=torch.bool)
    total = sums[0]
    for s in sums[1:]:
        total = total + s.to(total.device)
    return total != 0
