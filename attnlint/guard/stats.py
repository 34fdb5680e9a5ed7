"""Seed-003 statistics of one attention site, reduced to 0-d tensors on the device.

Nothing here syncs with the host: every function returns a dict of 0-d tensors that the
guard stacks and reads with a single ``.tolist()`` per sampled step. Rows (queries) and
keys that a mask excludes never enter a statistic.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

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


def _masked_mean(x: Tensor, m: Tensor) -> Tensor:
    # NaN (not 0) when nothing is counted, so "no data" never reads as a healthy value
    m = m.to(x.dtype)
    return (x * m).sum() / m.sum().where(m.sum() > 0, torch.full_like(m.sum(), math.nan))


def _query_stride(x: Tensor, stride: int) -> Tensor:
    """Every ``stride``-th query row of a [B, H, Lq, Lk] tensor (or a broadcast mask)."""
    return x[..., ::stride, :] if stride > 1 and x.shape[-2] > 1 else x


def attention_stats(
    probs: Tensor,
    valid: Tensor,
    query_valid: Tensor | None = None,
    logits: Tensor | None = None,
    saturation_threshold: float = 10.0,
    row_budget: int | None = 2048,
    materialised: bool = False,
) -> dict[str, Tensor]:
    """Statistics of probabilities ``probs`` [B, H, Lq, Lk].

    ``valid`` (bool, broadcastable to ``probs``) marks keys a row may attend to;
    ``query_valid`` [B, Lq] marks rows that are real queries (padding queries are ignored);
    ``logits`` [B, H, Lq, Lk] are the scaled pre-softmax scores, without mask additions.

    NaN rows, mass, max row weight and the column statistics always use every row. The
    per-row means that need a log or a selection per element (entropy, effective rank,
    top-k mass, logit statistics) use every query when the site has at most
    ``row_budget`` rows, and otherwise an even stride of queries in every batch item and
    head: an unbiased estimate of the same mean at a cost bounded per site. At every=1
    this is the difference between 1.7x and 1.4x a training step (bench/guard_overhead.py).

    ``materialised``: ``probs`` are the model's own probabilities (a hand-written softmax),
    so a row with no valid key is NaN only if the model's row is; recomputed probabilities
    use -inf for masked keys, and whether the model's own row was NaN shows in the site's
    output instead (``finite_scores``). Such rows are counted as ``masked_rows``.
    """
    # Each line below is at most one pass over the [B, H, Lq, Lk] tensor.
    p = probs.float()
    B, H, Lq, _ = p.shape
    n_valid = valid.sum(-1).to(p.dtype).expand(p.shape[:-1])  # [B, H, Lq]
    rows = torch.ones_like(n_valid, dtype=torch.bool)
    if query_valid is not None:
        rows = rows & query_valid[:, None, :].to(torch.bool)
    zero = torch.zeros((), dtype=p.dtype, device=p.device)
    pv = torch.where(valid, p, zero)  # masked keys never count
    row_sum = pv.sum(-1)
    # a NaN or inf anywhere on a row's valid keys makes its sum non-finite
    row_finite = torch.isfinite(row_sum)
    no_key = n_valid == 0
    if materialised:
        # a finite fill (-1e9, finfo.min) keeps a fully masked row finite: not a NaN event
        all_finite = torch.isfinite(p).all(-1)
        nan_rows = rows & ~all_finite
        masked_rows = no_key & all_finite
    else:
        nan_rows = rows & ~row_finite & ~no_key
        masked_rows = no_key
    good = rows & ~nan_rows & ~no_key  # rows with a valid key and finite probabilities
    ent_rows = good & (n_valid >= 2)  # a row with one valid key has no entropy to speak of
    pz = torch.nan_to_num(pv, nan=0.0, posinf=0.0, neginf=0.0)
    mass = torch.where(row_finite, row_sum, zero)

    stride = 1
    if row_budget is not None and B * H * Lq > row_budget:
        stride = math.ceil(B * H * Lq / row_budget)
    ps = _query_stride(pz, stride)
    sampled_rows = ent_rows[..., ::stride]
    ent = torch.special.entr(ps).sum(-1)
    norm_ent = ent / n_valid[..., ::stride].clamp_min(2).log()
    k = min(50, p.shape[-1])
    # one unsorted selection of the top 50, then a sorted top 10 of those 50
    top_k_values = ps.topk(k, dim=-1, sorted=False).values
    head = top_k_values.topk(min(10, k), dim=-1, sorted=True).values.cumsum(-1)

    def top_n(n: int) -> Tensor:
        return _masked_mean(head[..., min(n, head.shape[-1]) - 1], sampled_rows)

    out = {
        "entropy": _masked_mean(ent, sampled_rows),
        "normalized_entropy": _masked_mean(norm_ent, sampled_rows),
        "effective_rank": _masked_mean(ent.exp(), sampled_rows),
        "top5": top_n(5),
        "top10": top_n(10),
        "top50": _masked_mean(top_k_values.sum(-1), sampled_rows),
        "max_row_weight": _masked_mean(pz.amax(-1), ent_rows),
        "mass": _masked_mean(mass, good),
        "mass_min": torch.where(good, mass, torch.full_like(mass, math.inf)).amin(),
        "nan_rows": nan_rows.sum().to(p.dtype),
        "masked_rows": masked_rows.sum().to(p.dtype),
        "n_valid": _masked_mean(n_valid, rows),
    }
    # exact uniformity: every row's largest weight is its mass / n_valid (within rounding)
    row_max = pz.amax(-1)
    gap = (row_max * n_valid / mass.clamp_min(_TINY) - 1).abs()
    gap = torch.where(ent_rows, gap, torch.full_like(gap, -math.inf)).amax()
    out["uniform_gap"] = gap.where(gap > -math.inf, torch.full_like(gap, math.nan))
    out.update(sink_stats(pz, valid, ent_rows, n_valid))
    # column statistics: how attention is received, summed over the real query rows
    col = (good.to(p.dtype).unsqueeze(-2) @ pz).squeeze(-2)  # [B, H, Lk]
    total = col.sum(-1, keepdim=True)
    has = total.squeeze(-1) > 0
    col_ent = torch.special.entr(col / total.clamp_min(_TINY)).sum(-1)
    out["col_entropy"] = _masked_mean(col_ent, has)
    out["max_col_sum"] = _masked_mean(col.amax(-1), has)

    if logits is not None:
        out.update(
            logit_stats(
                _query_stride(logits.float(), stride),
                _query_stride(valid, stride),
                good[..., ::stride],
                saturation_threshold,
            )
        )
    return out


def sink_stats(p: Tensor, valid: Tensor, rows: Tensor, n_valid: Tensor) -> dict[str, Tensor]:
    """Attention sinks, normalised by what the masks let each key receive.

    Per head and key: the attention the key received from the ``rows`` that may attend to
    it, divided by the number of those rows (``sink_mass``: 1 = every such row gives it all
    its mass), and divided by what uniform attention would give it (``sink_lift``). Under
    a causal mask the first keys are seen by every row, so their raw column sums are large
    in any healthy model; this ratio is not. Only keys that at least half of the rows may
    see count: a sink is a key most queries attend to. Pooled over the batch.
    """
    w = rows.to(p.dtype)  # [B, H, Lq]
    vf = valid.to(p.dtype).expand(p.shape)
    got = (w.unsqueeze(-2) @ p).squeeze(-2).sum(0)  # [H, Lk]
    seen = (w.unsqueeze(-2) @ vf).squeeze(-2).sum(0)
    uniform = ((w / n_valid.clamp_min(1)).unsqueeze(-2) @ vf).squeeze(-2).sum(0)
    enough = seen >= 0.5 * w.sum((0, 2)).unsqueeze(-1).clamp_min(1)
    share = torch.where(enough, got / seen.clamp_min(1), torch.zeros((), dtype=p.dtype))
    flat = share.flatten().argmax()
    lk = share.shape[-1]
    nan = torch.full((), math.nan, dtype=p.dtype, device=p.device)
    has = enough.any()
    return {
        "sink_mass": share.flatten()[flat].where(has, nan),
        "sink_lift": (got.flatten()[flat] / uniform.flatten()[flat].clamp_min(_TINY)).where(
            has, nan
        ),
        "sink_key": (flat % lk).to(p.dtype).where(has, nan),
        "sink_head": (flat // lk).to(p.dtype).where(has, nan),
    }


def logit_stats(logits: Tensor, valid: Tensor, rows: Tensor, threshold: float) -> dict[str, Tensor]:
    """Mean, std and saturation of the logits on valid keys of the ``rows`` that count.

    Sums are taken per row first and combined on the small [B, H, Lq] tensors, so the
    full-size tensor is read a handful of times (no full-size masks or casts)."""
    lm = torch.where(valid, logits, torch.zeros((), dtype=logits.dtype, device=logits.device))
    w = rows.to(logits.dtype)
    cnt = (valid.sum(-1).to(logits.dtype).expand(rows.shape) * w).sum()
    total = (lm.sum(-1) * w).sum()
    squares = (torch.linalg.vector_norm(lm, dim=-1).square() * w).sum()
    absl = lm.abs()
    saturated = (torch.count_nonzero(absl > threshold, dim=-1).to(logits.dtype) * w).sum()
    largest = (absl.amax(-1) * w).amax() if absl.numel() else cnt * 0
    mean = total / cnt.clamp_min(1)
    # unbiased variance from the sum of squares
    var = (squares - total * mean) / (cnt - 1).clamp_min(1)
    nan = torch.full_like(cnt, math.nan)
    return {
        "logit_mean": mean.where(cnt > 0, nan),
        "logit_std": var.clamp_min(0).sqrt().where(cnt > 1, nan),
        "logit_saturation": (saturated / cnt.clamp_min(1)).where(cnt > 0, nan),
        "logit_max": largest.where(cnt > 0, nan),
    }


def relative_variance(x: Tensor, dim: int, valid: Tensor | None = None) -> Tensor:
    """var(x along ``dim``) / mean(x**2): 0 for a constant (or all-zero) tensor, scale-free.

    ``valid`` (bool, x's shape without the feature dim) marks the positions that count;
    only slices with >= 2 valid positions contribute.
    """
    x = x.float()
    if valid is None:
        valid = torch.ones(x.shape[:-1], dtype=torch.bool, device=x.device)
    m = valid.to(x.dtype)[..., None]
    cnt = m.sum(dim, keepdim=True)
    mean = (x * m).sum(dim, keepdim=True) / cnt.clamp_min(1)
    var = (((x - mean) ** 2) * m).sum(dim, keepdim=True) / cnt.clamp_min(1)
    ms = ((x**2) * m).sum(dim, keepdim=True) / cnt.clamp_min(1)
    use = (cnt >= 2).expand_as(var)
    num = (var * use).sum()
    den = (ms * use).sum()
    nan = torch.full_like(num, math.nan)
    return (num / den.clamp_min(_TINY)).where(use.any(), nan)


def position_variance(x: Tensor, valid: Tensor | None = None) -> Tensor:
    """``relative_variance`` across positions for an input of any rank >= 2: dim -2 is the
    position axis of [B, L, E] sequences, [B, H, L, d] multi-head queries and keys, and the
    first spatial axis of [B, C, H, W] feature maps (every other axis is a separate slice).
    """
    if x.dim() < 2:
        return torch.full((), math.nan, device=x.device)
    if valid is not None and valid.shape != x.shape[:-1]:
        valid = None
    return relative_variance(x, dim=x.dim() - 2, valid=valid)


def score_stats(scores: Tensor, valid: Tensor) -> dict[str, Tensor]:
    """Statistics of the valid scores handed to ``check_scores`` (lists on the last dim)."""
    fs = scores.float()
    bad = (~torch.isfinite(fs) & valid).sum()
    ok = valid & torch.isfinite(fs)
    cnt = ok.sum().clamp_min(1)
    mean = torch.where(ok, fs, 0).sum() / cnt
    big = torch.full_like(fs, math.inf)
    lo = torch.where(ok, fs, big)
    hi = torch.where(ok, fs, -big)
    lists = fs.reshape(-1, fs.shape[-1]) if fs.dim() else fs.reshape(1, 1)
    lo_l, hi_l = lo.reshape(lists.shape), hi.reshape(lists.shape)
    has_two = ok.reshape(lists.shape).sum(-1) >= 2
    spread = torch.where(has_two, hi_l.amax(-1) - lo_l.amin(-1), torch.zeros((), device=fs.device))
    nan = torch.full((), math.nan, device=fs.device)
    return {
        "score_nonfinite": bad.float(),
        "score_min": lo.amin(),
        "score_max": hi.amax(),
        "score_mean": mean,
        "score_std": (torch.where(ok, fs - mean, 0) ** 2).sum().div(cnt).sqrt(),
        "score_abs_max": torch.where(ok, fs.abs(), 0).amax() if fs.numel() else nan,
        "score_spread_max": spread.amax().where(has_two.any(), nan),
    }


def residual_ratio(out: Tensor, inp: Tensor, valid: Tensor | None = None) -> Tensor:
    """||block(x) - x|| / ||x|| over the valid positions."""
    d = (out.float() - inp.float()) ** 2
    x = inp.float() ** 2
    if valid is not None:
        m = valid.to(d.dtype)[..., None]
        d, x = d * m, x * m
    return d.sum().sqrt() / x.sum().sqrt().clamp_min(_TINY)


def nonfinite(*tensors: Tensor) -> Tensor:
    """0-d bool tensor: any NaN or inf in any floating tensor given."""
    flags = [~torch.isfinite(t).all() for t in tensors if t.is_floating_point() and t.numel()]
    if not flags:
        return torch.zeros((), dtype=torch.bool)
    out = flags[0]
    for f in flags[1:]:
        out = out | f.to(out.device)
    return out
