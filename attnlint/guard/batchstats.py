"""What the training loop hands the guard: scores (``check_scores``) and relevance labels
(``check_relevance``). Device tensors only; the step's one sync reads them.

On unsampled steps each call adds a 0-d flag (this call had a problem) to the cheap
counters, in as few kernels as the question allows; on sampled steps the full statistics.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from attnlint.guard import stats


def scores_bad(s: Tensor, mask: Tensor | None) -> Tensor:
    """0-d bool: some valid score is NaN or +-inf (one flag per call, not per element)."""
    bad = ~torch.isfinite(s)
    if mask is not None:
        bad = bad & mask.bool()
    return bad.any()


def score_stats(s: Tensor, mask: Tensor | None) -> dict[str, Tensor]:
    valid = torch.ones_like(s, dtype=torch.bool) if mask is None else mask.bool()
    return stats.score_stats(s, valid)


def _lists(rel: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor | None]:
    r = rel.detach().float()
    if r.dim() == 1:
        return r[None], None if mask is None else mask[None]
    return r, mask


def _extremes(r: Tensor, valid: Tensor | None) -> tuple[Tensor, Tensor]:
    """Per list: the smallest and largest valid relevance (+inf / -inf for no valid item)."""
    if valid is None:
        lo, hi = torch.aminmax(r, dim=-1)
        return lo, hi
    return r.masked_fill(~valid, math.inf).amin(-1), r.masked_fill(~valid, -math.inf).amax(-1)


def relevance_bad(rel: Tensor, mask: Tensor | None) -> Tensor:
    """0-d bool: some list has < 2 valid items or constant relevance. A list with one
    valid item has max == min and one with none has max < min, so ``max > min`` for every
    list says it all (NaN relevance fails it too)."""
    r, mask = _lists(rel, mask)
    lo, hi = _extremes(r, None if mask is None else mask > 0)
    return ~(hi > lo).all()


def relevance_stats(rel: Tensor, mask: Tensor | None) -> dict[str, Tensor]:
    r, mask = _lists(rel, mask)
    valid = torch.ones_like(r, dtype=torch.bool) if mask is None else mask > 0
    lo, hi = _extremes(r, valid)
    n = valid.sum(-1)
    degenerate = (n < 2) | ~(hi > lo)
    cnt = valid.sum().clamp_min(1)
    mean = torch.where(valid, r, 0).sum() / cnt
    nf = n.float()
    return {
        "list_count": torch.full((), float(r.shape[0]), device=r.device),
        "list_len_min": nf.amin(),
        "list_len_max": nf.amax(),
        "list_len_mean": nf.mean(),
        "rel_min": lo.amin(),
        "rel_max": hi.amax(),
        "rel_mean": mean,
        "rel_std": (torch.where(valid, r - mean, 0) ** 2).sum().div(cnt).sqrt(),
        "degenerate_list_share": degenerate.float().mean(),
    }
