"""The previous statistics (one torch call per quantity): ``attention_stats``, the batch
statistics, relative variance and residual ratio, kept as the reference the rewritten ones
are compared with on random inputs."""

from __future__ import annotations

import math

import torch
from torch import Tensor

_TINY = 1e-30


def _mean(x: Tensor, w: Tensor) -> Tensor:
    """Mean of ``x`` over the rows weighted 1 in ``w`` (0/1 floats, ``x`` finite there and
    elsewhere): NaN (0/0, not 0) when nothing is counted, so "no data" never reads as a
    healthy value."""
    return (x * w).sum() / w.sum()


def _rows(x: Tensor, stride: int) -> Tensor:
    """Every ``stride``-th row of ``x`` flattened to rows of its last dim ([N, Lk])."""
    flat = x.reshape(-1, x.shape[-1])
    return flat[::stride] if stride > 1 else flat


def _stride(n_rows: int, budget: int | None, lq: int) -> int:
    """Stride over the flattened rows for at most ``budget`` of them. Below ``lq`` it takes
    the same even grid of query positions in every batch item and head; from ``lq / 4`` up
    that grid would hold at most four positions, so the stride is made prime to ``lq`` and
    the rows taken cycle through every query position instead."""
    if budget is None or n_rows <= budget:
        return 1
    stride = math.ceil(n_rows / budget)
    while 4 * stride >= lq and math.gcd(stride, lq) != 1:
        stride += 1
    return stride


def _as4(m: Tensor) -> Tensor:
    return m.reshape((1,) * (4 - m.dim()) + tuple(m.shape)) if m.dim() < 4 else m


def _key_sums(w: Tensor, vf: Tensor) -> Tensor:
    """sum over batch and query of ``w[b, h, c, q] * vf[b, h, q, k]`` -> [H, C, Lk], with
    ``vf`` (a 0/1 key mask) in its own broadcast shape: never expanded to full size."""
    if vf.shape[-2] == 1:  # the same keys for every query
        return (w.sum(-1, keepdim=True) * vf).sum(0)
    if vf.shape[0] == 1:
        w = w.sum(0, keepdim=True)
    if vf.shape[1] == 1:  # one mask for all heads: one (batched) matmul over H * C rows
        b, h, c, lq = w.shape
        return (w.reshape(b, h * c, lq) @ vf[:, 0]).reshape(b, h, c, -1).sum(0)
    return (w @ vf).sum(0)


def attention_stats(
    probs: Tensor,
    valid: Tensor,
    query_valid: Tensor | None = None,
    logits: Tensor | None = None,
    saturation_threshold: float = 10.0,
    row_budget: int | None = 2048,
    materialised: bool = False,
    topk_budget: int | None = 128,
) -> dict[str, Tensor]:
    """Statistics of probabilities ``probs`` [B, H, Lq, Lk].

    ``valid`` (bool, broadcastable to ``probs``) marks keys a row may attend to;
    ``query_valid`` [B, Lq] marks rows that are real queries (padding queries are ignored);
    ``logits`` [B, H, Lq, Lk] are the scaled pre-softmax scores, without mask additions.

    Exact, over every row: NaN and masked rows, mass, max row weight, uniform gap, the
    column and sink statistics, the largest logit, and ``top50`` when a row has at most
    50 keys (it is then the row's mass). Entropy, effective rank and the logits' mean, std
    and saturation use every row when the site has at most ``row_budget`` rows (query rows
    of every batch item and head), otherwise an even stride of them; the top-5/10 (and
    top-50 above 50 keys) masses the same with the smaller ``topk_budget`` (a selection per
    row costs about 0.7 us on CPU, 30x a reduction). An even stride of rows is an unbiased
    estimate of the same mean at a cost bounded per site. ``row_budget=None``: every
    statistic on every row.

    ``materialised``: ``probs`` are the model's own probabilities (a hand-written softmax),
    so a row with no valid key is NaN only if the model's row is; recomputed probabilities
    use -inf for masked keys, and whether the model's own row was NaN shows in the site's
    output instead (``finite_scores``). Such rows are counted as ``masked_rows``.
    """
    # Full-size passes: mask, sum, nan_to_num, amax, log, product, the sampled top-k, one
    # bmm, and four for the logits; everything else works on [B, H, Lq] / [H, Lk] sums.
    p = probs.float()
    B, H, Lq, Lk = p.shape
    vf = _as4(valid).to(p.dtype)  # stays in its broadcast shape
    n_valid = vf.sum(-1).expand(B, H, Lq)
    rows = torch.ones((B, H, Lq), dtype=torch.bool, device=p.device)
    if query_valid is not None:
        rows = rows & query_valid[:, None, :].to(torch.bool)
    # a product, not a where: for probabilities a non-finite masked key only occurs on a
    # row that is non-finite (or has no valid key) anyway, and the product is 6x cheaper
    pv = p * vf
    row_sum = pv.sum(-1)
    row_finite = torch.isfinite(row_sum)  # a NaN or inf on a row makes its sum non-finite
    no_key = n_valid == 0
    if materialised:
        # a finite fill (-1e9, finfo.min) keeps a fully masked row finite: not a NaN event
        all_finite = torch.isfinite(p.sum(-1))  # bounded values: the sum is finite iff all are
        nan_rows = rows & ~all_finite
        masked_rows = no_key & all_finite
    else:
        nan_rows = rows & ~row_finite & ~no_key
        masked_rows = no_key
    good = rows & ~nan_rows & ~no_key  # rows with a valid key and finite probabilities
    ent_rows = good & (n_valid >= 2)  # a row with one valid key has no entropy to speak of
    good_f, ent_f = good.to(p.dtype), ent_rows.to(p.dtype)
    pz = pv.nan_to_num_(nan=0.0, posinf=0.0, neginf=0.0)
    mass = row_sum.nan_to_num(nan=0.0, posinf=0.0, neginf=0.0) * row_finite
    row_max = pz.amax(-1)

    stride = _stride(B * H * Lq, row_budget, Lq)
    ps, w = _rows(pz, stride), ent_f.reshape(-1)[::stride]
    # -sum p log p, in place on one buffer (the clamp only changes p = 0, where p log p = 0)
    plogp = ps.clamp_min(torch.finfo(p.dtype).tiny).log_().mul_(ps)
    ent = -plogp.sum(-1)
    norm_ent = ent / n_valid.reshape(-1)[::stride].clamp_min(2).log()
    per_row = torch.stack([ent, norm_ent, ent.exp()])
    means = (per_row @ w) / w.sum()

    # no row budget at all means exact statistics, the top-k masses included
    k_budget = None if row_budget is None else min(row_budget, topk_budget or row_budget)
    k_stride = _stride(B * H * Lq, k_budget, Lq)
    pk, wk = _rows(pz, k_stride), ent_f.reshape(-1)[::k_stride]
    k = min(10, Lk)
    head = pk.topk(k, dim=-1, sorted=True).values.cumsum(-1)
    tops = [head[:, min(5, k) - 1], head[:, -1]]
    if Lk > 100:
        tops.append(pk.topk(50, dim=-1, sorted=False).values.sum(-1))
    elif Lk > 50:  # the 50 largest: all but the Lk - 50 smallest (a smaller selection)
        tops.append(pk.sum(-1) - pk.topk(Lk - 50, dim=-1, largest=False).values.sum(-1))
    top_means = (torch.stack(tops) @ wk) / wk.sum()

    gap = (row_max * n_valid / mass.clamp_min(_TINY) - 1).abs()
    gap = torch.where(ent_rows, gap, -math.inf).amax()
    out = {
        "entropy": means[0],
        "normalized_entropy": means[1],
        "effective_rank": means[2],
        "top5": top_means[0],
        "top10": top_means[1],
        "top50": top_means[2] if Lk > 50 else _mean(mass, ent_f),
        "max_row_weight": _mean(row_max, ent_f),
        "mass": _mean(mass, good_f),
        "mass_min": torch.where(good, mass, math.inf).amin(),
        "nan_rows": nan_rows.sum().to(p.dtype),
        "masked_rows": masked_rows.sum().to(p.dtype),
        "n_valid": _mean(n_valid, rows.to(p.dtype)),
        # exact uniformity: every row's largest weight is its mass / n_valid (within rounding)
        "uniform_gap": gap.where(gap > -math.inf, math.nan),
    }
    # what each key received from the good rows (columns) and the entropy rows (sinks)
    got = torch.stack([good_f, ent_f], -2) @ pz  # [B, H, 2, Lk]
    col = got[..., 0, :]
    out.update(sink_stats(got[..., 1, :].sum(0), vf, ent_f, n_valid))
    total = col.sum(-1, keepdim=True)
    has = (total.squeeze(-1) > 0).to(p.dtype)
    col_ent = torch.special.entr(col / total.clamp_min(_TINY)).sum(-1)
    out["col_entropy"] = _mean(col_ent, has)
    out["max_col_sum"] = _mean(col.amax(-1), has)

    if logits is not None:
        out.update(logit_stats(logits.float(), valid, good_f, saturation_threshold, stride))
    return out


def sink_stats(got: Tensor, vf: Tensor, w: Tensor, n_valid: Tensor) -> dict[str, Tensor]:
    """Attention sinks, normalised by what the masks let each key receive.

    ``got`` [H, Lk]: the attention each key received from the rows weighted 1 in ``w``
    [B, H, Lq]; ``vf`` the 0/1 key mask in its broadcast shape. Per head and key: ``got``
    divided by the number of those rows that may attend to the key (``sink_mass``: 1 = every
    such row gives it all its mass), and divided by what uniform attention would give it
    (``sink_lift``). Under a causal mask the first keys are seen by every row, so their raw
    column sums are large in any healthy model; this ratio is not. Only keys that at least
    half of the rows may see count: a sink is a key most queries attend to. Pooled over the
    batch.
    """
    both = _key_sums(torch.stack([w, w / n_valid.clamp_min(1)], -2), vf)  # [H, 2, Lk]
    seen, uniform = both[:, 0], both[:, 1]
    enough = seen >= 0.5 * w.sum((0, 2)).unsqueeze(-1).clamp_min(1)
    share = (got / seen.clamp_min(1)) * enough
    flat = share.flatten().argmax()
    lk = share.shape[-1]
    has = enough.any()
    return {
        "sink_mass": share.flatten()[flat].where(has, math.nan),
        "sink_lift": (got.flatten()[flat] / uniform.flatten()[flat].clamp_min(_TINY)).where(
            has, math.nan
        ),
        "sink_key": (flat % lk).to(got.dtype).where(has, math.nan),
        "sink_head": (flat // lk).to(got.dtype).where(has, math.nan),
    }


def logit_stats(
    logits: Tensor, valid: Tensor, rows: Tensor, threshold: float, stride: int = 1
) -> dict[str, Tensor]:
    """Mean, std and saturation of the logits on valid keys of the ``rows`` (0/1 floats,
    [B, H, Lq]) that count, on every ``stride``-th row; the largest on every row.

    Sums are taken per row first and combined on the small [B, H, Lq] tensors, so the
    full-size tensor is read a handful of times (no full-size masks or casts)."""
    # a where, not a product: a masked key's logit may be NaN on a row whose probabilities
    # are finite (a NaN-filled padding position), and it must not count
    lm = torch.where(valid, logits, 0.0)
    ls, w = _rows(lm, stride), rows.reshape(-1)[::stride]
    nv = _as4(valid).sum(-1).to(logits.dtype).expand(rows.shape).reshape(-1)[::stride]
    row_total, row_squares = ls.sum(-1), torch.linalg.vector_norm(ls, dim=-1).square()
    absl = lm.abs_()  # the signed values are no longer needed
    largest = (absl.amax(-1) * rows).amax() if absl.numel() else rows.sum() * 0
    # count of |logit| > threshold per row as sign(max(|l| - t, 0)): float ops, where a
    # comparison and a count would convert a bool tensor to int64 at full size; a NaN
    # logit makes its row's count NaN, and only rows that do not count have one
    above = (_rows(absl, stride) - threshold).clamp_min_(0).sign_().sum(-1).nan_to_num_(0.0)
    sums = torch.stack([nv, row_total, row_squares, above])
    cnt, total, squares, saturated = sums @ w
    mean = total / cnt.clamp_min(1)
    # unbiased variance from the sum of squares
    var = (squares - total * mean) / (cnt - 1).clamp_min(1)
    return {
        "logit_mean": mean.where(cnt > 0, math.nan),
        "logit_std": var.clamp_min(0).sqrt().where(cnt > 1, math.nan),
        "logit_saturation": (saturated / cnt.clamp_min(1)).where(cnt > 0, math.nan),
        "logit_max": largest.where(rows.sum() > 0, math.nan),
    }


def relative_variance(x: Tensor, dim: int, valid: Tensor | None = None) -> Tensor:
    """var(x along ``dim``) / mean(x**2): 0 for a constant (or all-zero) tensor, scale-free.

    ``valid`` (bool, x's shape without the feature dim) marks the positions that count;
    only slices with >= 2 valid positions contribute.
    """
    x = x.float()
    if valid is None:
        # every position counts: no mask products; mean(x**2) = var + mean**2 adds, so it
        # loses nothing to cancellation (torch.var_mean is 10x slower off the last dim)
        mean = x.mean(dim, keepdim=True)
        d = x - mean
        var = d.mul_(d).mean(dim, keepdim=True)
        ms = var + mean.square()
        use = torch.full_like(var, float(x.shape[dim] >= 2), dtype=torch.bool)
    else:
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


def grad_norms(params: list[tuple[int, Tensor]]) -> tuple[list[int], Tensor]:
    """The previous ``GradGroups.norms``: (groups present, [total, per group...])."""
    grads: list[Tensor] = []
    groups: list[int] = []
    for g, p in params:
        if p.grad is not None:
            grads.append(p.grad.detach())
            groups.append(g)
    dev = grads[0].device
    per = list(torch._foreach_norm(grads, 2, dtype=torch.float32))
    squares = torch.stack(per).square()
    present = sorted(set(groups))
    slot = {g: i for i, g in enumerate(present)}
    index = torch.tensor([slot[g] for g in groups], device=dev)
    by_group = torch.zeros(len(present), device=dev).index_add_(0, index, squares)
    return present, torch.cat([squares.sum().reshape(1), by_group]).sqrt()
