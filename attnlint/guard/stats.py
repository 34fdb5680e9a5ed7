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
    "n_valid",
)
LOGIT_STATS = ("logit_mean", "logit_std", "logit_saturation")
_TINY = 1e-30


def _masked_mean(x: Tensor, m: Tensor) -> Tensor:
    # NaN (not 0) when nothing is counted, so "no data" never reads as a healthy value
    m = m.to(x.dtype)
    return (x * m).sum() / m.sum().where(m.sum() > 0, torch.full_like(m.sum(), math.nan))


def attention_stats(
    probs: Tensor,
    valid: Tensor,
    query_valid: Tensor | None = None,
    logits: Tensor | None = None,
    saturation_threshold: float = 10.0,
) -> dict[str, Tensor]:
    """Statistics of probabilities ``probs`` [B, H, Lq, Lk].

    ``valid`` (bool, broadcastable to ``probs``) marks keys a row may attend to;
    ``query_valid`` [B, Lq] marks rows that are real queries (padding queries are ignored);
    ``logits`` [B, H, Lq, Lk] are the scaled pre-softmax scores, without mask additions.
    """
    p = probs.float()
    v = valid.expand_as(p)
    n_valid = v.sum(-1).to(p.dtype)  # [B, H, Lq]
    rows = torch.ones_like(n_valid, dtype=torch.bool)
    if query_valid is not None:
        rows = rows & query_valid[:, None, :].to(torch.bool)
    finite = torch.isfinite(p) | ~v
    row_finite = finite.all(-1)
    # a row with no valid key is NaN in the real softmax even when its query is padding
    nan_rows = (n_valid == 0) | (rows & ~row_finite)
    good = rows & ~nan_rows  # rows with at least one valid key and finite probabilities
    ent_rows = good & (n_valid >= 2)  # a row with one valid key has no entropy to speak of

    pz = torch.where(v & torch.isfinite(p), p, torch.zeros((), dtype=p.dtype, device=p.device))
    mass = pz.sum(-1)
    ent = -(pz * pz.clamp_min(_TINY).log()).sum(-1)
    norm_ent = ent / n_valid.clamp_min(2).log()
    k = min(50, p.shape[-1])
    top = pz.topk(k, dim=-1, sorted=True).values.cumsum(-1)

    def top_k(n: int) -> Tensor:
        return top[..., min(n, k) - 1]

    out = {
        "entropy": _masked_mean(ent, ent_rows),
        "normalized_entropy": _masked_mean(norm_ent, ent_rows),
        "effective_rank": _masked_mean(ent.exp(), ent_rows),
        "top5": _masked_mean(top_k(5), ent_rows),
        "top10": _masked_mean(top_k(10), ent_rows),
        "top50": _masked_mean(top_k(50), ent_rows),
        "max_row_weight": _masked_mean(top[..., 0], ent_rows),
        "mass": _masked_mean(mass, good),
        "mass_min": torch.where(good, mass, torch.full_like(mass, math.inf)).amin(),
        "nan_rows": nan_rows.sum().to(p.dtype),
        "n_valid": _masked_mean(n_valid, rows),
    }
    # column statistics: how attention is received, summed over the real query rows
    col = (pz * good[..., None].to(p.dtype)).sum(-2)  # [B, H, Lk]
    total = col.sum(-1, keepdim=True)
    has = total.squeeze(-1) > 0
    cn = col / total.clamp_min(_TINY)
    col_ent = -(cn * cn.clamp_min(_TINY).log()).sum(-1)
    out["col_entropy"] = _masked_mean(col_ent, has)
    out["max_col_sum"] = _masked_mean(col.amax(-1), has)

    if logits is not None:
        lg = logits.float()
        lv = v & good[..., None] & torch.isfinite(lg)
        out.update(logit_stats(lg, lv, saturation_threshold))
    return out


def logit_stats(logits: Tensor, valid: Tensor, threshold: float) -> dict[str, Tensor]:
    m = valid.to(logits.dtype)
    cnt = m.sum()
    mean = (logits * m).sum() / cnt.clamp_min(1)
    var = (((logits - mean) ** 2) * m).sum() / (cnt - 1).clamp_min(1)
    sat = ((logits.abs() > threshold).to(logits.dtype) * m).sum() / cnt.clamp_min(1)
    nan = torch.full_like(cnt, math.nan)
    return {
        "logit_mean": mean.where(cnt > 0, nan),
        "logit_std": var.sqrt().where(cnt > 1, nan),
        "logit_saturation": sat.where(cnt > 0, nan),
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
