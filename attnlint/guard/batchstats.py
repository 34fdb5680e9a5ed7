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
from attnlint.guard.finish import Finish
from attnlint.guard.masks import constant


def scores_bad(s: Tensor, mask: Tensor | None) -> Tensor:
    """0-d bool: some valid score is NaN or +-inf (one flag per call, not per element)."""
    bad = ~torch.isfinite(s)
    if mask is not None:
        bad = bad & mask.bool()
    return bad.any()


def score_stats(s: Tensor, mask: Tensor | None) -> dict[str, Tensor]:
    return stats.score_stats(s, None if mask is None else mask.bool())


def score_parts(s: Tensor, mask: Tensor | None) -> tuple[dict[str, Tensor], Finish]:
    return stats.score_parts(s, None if mask is None else mask.bool())


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
    dev = r.device
    if mask is None:  # every item: the list lengths are the shape's
        lo, hi = torch.aminmax(r, dim=-1)
        n_items = r.shape[-1]
        length = constant(float(n_items), dev, torch.float32)
        len_min = len_max = len_mean = length
        cnt = r.numel()
        mean = r.sum() / max(cnt, 1)
        centred = r - mean
        std = torch.linalg.vector_norm(centred) / math.sqrt(max(cnt, 1))
    else:
        out = ~(mask > 0)
        lo = r.masked_fill(out, math.inf).amin(-1)
        hi = r.masked_fill(out, -math.inf).amax(-1)
        nf = (~out).sum(-1, dtype=r.dtype)
        len_min, len_max = torch.aminmax(nf)
        len_mean = nf.mean()
        cnt_t = nf.sum().clamp_min(1)
        mean = r.masked_fill(out, 0.0).sum() / cnt_t
        centred = (r - mean).masked_fill_(out, 0.0)
        std = torch.linalg.vector_norm(centred) / cnt_t.sqrt()
    # fewer than 2 valid items gives max <= min, so ~(max > min) says it all (NaN too)
    degenerate = ~(hi > lo)
    return {
        "list_count": constant(float(r.shape[0]), dev, torch.float32),
        "list_len_min": len_min,
        "list_len_max": len_max,
        "list_len_mean": len_mean,
        "rel_min": lo.amin(),
        "rel_max": hi.amax(),
        "rel_mean": mean,
        "rel_std": std,
        "degenerate_list_share": degenerate.float().mean(),
    }
