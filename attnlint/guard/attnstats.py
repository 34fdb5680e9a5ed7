"""The statistics of one attention site's probabilities, in few torch operations.

On a small site nearly all of the cost is the fixed cost of each torch call (a few
microseconds on CPU), not the arithmetic, so this module is written for the number of
calls: per-row quantities are stacked and reduced with one matrix product against the 0/1
row weights, the answers the shapes already give are not computed (every key valid when
the site has no mask, a top-10 over at most 10 keys is the row's mass), and the 0-d
results are views of one vector. Nothing here reads a value on the host, and nothing
writes to a tensor the caller passed in: in-place operations touch only tensors made here.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from attnlint.guard.finish import Finish, Num, div, finish_logits, finish_sinks, nan_unless
from attnlint.guard.keystats import column_sums, sink_parts
from attnlint.guard.masks import constant, keep_or_zero

_TINY = 1e-30


def _rows(x: Tensor, stride: int) -> Tensor:
    """``x`` [B, H, Lq, Lk] itself, or every ``stride``-th row of it flattened ([N, Lk])."""
    return x.reshape(-1, x.shape[-1])[::stride] if stride > 1 else x


def _row_values(x: Tensor, stride: int) -> Tensor:
    """``x`` [B, H, Lq] itself, or every ``stride``-th value of it flattened ([N])."""
    return x.reshape(-1)[::stride] if stride > 1 else x


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


def _float(x: Tensor) -> Tensor:
    """``x`` as float32 (itself when it is: not even a dispatch)."""
    return x if x.dtype == torch.float32 else x.float()


def attention_parts(
    probs: Tensor,
    valid: Tensor | None,
    query_valid: Tensor | None = None,
    logits: Tensor | None = None,
    saturation_threshold: float = 10.0,
    row_budget: int | None = 2048,
    materialised: bool = False,
    topk_budget: int | None = 128,
) -> tuple[dict[str, Tensor], Finish]:
    """Statistics of probabilities ``probs`` [B, H, Lq, Lk], as the reductions they are
    made of and the ``Finish`` that makes them (see ``attnlint.guard.finish``).

    ``valid`` (bool, broadcastable to ``probs``) marks keys a row may attend to; None: every
    key of every row. ``query_valid`` [B, Lq] marks rows that are real queries (padding
    queries are ignored); ``logits`` [B, H, Lq, Lk] are the scaled pre-softmax scores,
    without mask additions.

    Exact, over every row: NaN and masked rows, mass, max row weight, uniform gap, the
    column and sink statistics, the largest logit, and the top-k masses whose k covers every
    key of a row (``top50`` up to 50 keys, ``top10`` up to 10, ``top5`` up to 5: the row's
    mass). Entropy, effective rank and the logits' mean, std and saturation use every row
    when the site has at most ``row_budget`` rows (query rows of every batch item and head),
    otherwise an even stride of them; the other top-k masses the same with the smaller
    ``topk_budget`` (a selection per row costs far more than a reduction). An even stride of
    rows is an unbiased estimate of the same mean at a cost bounded per site.
    ``row_budget=None``: every statistic on every row.

    ``materialised``: ``probs`` are the model's own probabilities (a hand-written softmax),
    so a row with no valid key is NaN only if the model's row is; recomputed probabilities
    use -inf for masked keys, and whether the model's own row was NaN shows in the site's
    output instead (``finite_scores``). Such rows are counted as ``masked_rows``.
    """
    p = _float(probs)
    B, H, Lq, Lk = p.shape
    n = B * H * Lq
    dev, dt = p.device, p.dtype
    if valid is None and Lk < 2:  # one key: the general path knows no row has an entropy
        valid = torch.ones((1, 1, 1, Lk), dtype=torch.bool, device=dev)

    # Full-size passes: (mask product,) sum, nan_to_num, amax, four for the entropy, the
    # sampled top-k, one matmul, and six or seven for the logits; the rest works on per-row
    # sums.
    # x * 0 == 0 is "x is finite" (NaN for NaN and inf), written in place as float 0/1
    if valid is None:
        vf = nv = None
        row_sum = p.sum(-1)
        pz = p.nan_to_num(nan=0.0, posinf=0.0, neginf=0.0)  # a copy: ours to change
        fin = row_sum.mul(0).eq_(0)
    else:
        vf = _as4(valid).to(dt)  # stays in its broadcast shape
        nv = vf.sum(-1)  # keys per row, [B or 1, H or 1, Lq or 1]
        # a product, not a where: for probabilities a non-finite masked key only occurs on a
        # row that is non-finite (or has no valid key) anyway, and the product is cheaper
        pz = p * vf
        row_sum = pz.sum(-1)
        # the model's own rows: a finite fill (-1e9, finfo.min) keeps a fully masked row
        # finite, so it is not a NaN event; bounded values: the sum is finite iff all are
        fin = (p.sum(-1) if materialised else row_sum).mul(0).eq_(0)
        pz.nan_to_num_(nan=0.0, posinf=0.0, neginf=0.0)
    mass = row_sum.nan_to_num_(nan=0.0, posinf=0.0, neginf=0.0)
    row_max = pz.amax(-1)
    qv = None if query_valid is None else query_valid[:, None, :].to(dt)

    # 0/1 row weights [B, H, Lq, columns]: good = a real query with a valid key and finite
    # probabilities; ent = good with at least two valid keys (one key has no entropy)
    if nv is None:
        wf = (fin if qv is None else fin * qv)[..., None]  # good and ent are the same rows
        ent_col = 0
    else:
        # nv >= 1 and nv >= 2 at once, against arange's [1, 2]
        wf = fin[..., None] * (nv[..., None] >= constant((1.0, 2.0), dev, dt))
        if qv is not None:
            wf = wf * qv[..., None]
        ent_col = 1
    good_f, ent_f = wf[..., 0], wf[..., ent_col]

    stride = _stride(n, row_budget, Lq)
    k_budget = None if row_budget is None else min(row_budget, topk_budget or row_budget)
    k_stride = _stride(n, k_budget, Lq)
    # per-row quantities, by the rows they are taken on; each set is reduced with one
    # product against the weight columns (sums) and one division by the counts (means)
    table = _Table(wf, n)
    table.add(1, {"row_max": row_max, "mass": mass})
    # -sum p log p in place on one buffer (the clamp only changes p = 0, where p log p = 0)
    ps = _rows(pz, stride)
    ent = ps.clamp_min(torch.finfo(dt).tiny).log_().mul_(ps).sum(-1).neg_()
    sampled = {"ent": ent, "rank": ent.exp()}
    if nv is not None:
        sampled["norm"] = ent / _row_values(nv.clamp_min(2).log_().expand(B, H, Lq), stride)
    if logits is not None:
        lg = _logit_rows(_float(logits), valid, nv, good_f, stride, saturation_threshold)
        sampled.update(lg[0])
    # one query per (item, head): each column is one row, and its entropy is the row's
    # entropy renormalised (-sum (p/m) log(p/m) = H / m + log m), over rows with a mass
    rows_are_columns = Lq == 1 and stride == 1
    if rows_are_columns:
        m = mass.clamp_min(_TINY)
        pos = (mass > 0).to(dt)
        sampled["cent"] = (ent / m).add_(m.log_()).mul_(pos)
        sampled["pos"] = pos
    tops = _top_columns(pz, Lk, k_stride)
    if k_stride == stride:
        sampled.update(tops)
    table.add(stride, sampled)
    if k_stride != stride:
        table.add(k_stride, tops)
    means, counts = table.reduce()

    raw: dict[str, Tensor] = {
        "max_row_weight": means["row_max"][ent_col],
        "mass": means["mass"][0],
        "mass_min": mass.masked_fill(good_f == 0, math.inf).amin(),
        "entropy": means["ent"][ent_col],
        "effective_rank": means["rank"][ent_col],
        "~good": counts[1][0],
    }
    if nv is not None:
        raw["normalized_entropy"] = means["norm"][ent_col]
    for name, limit in (("top5", 5), ("top10", 10), ("top50", 50)):
        # every key of a row: its mass, over every row
        raw[name] = means["mass"][ent_col] if Lk <= limit else means[name][ent_col]
    raw.update(_row_parts(fin, nv, qv, materialised, dt))

    # exact uniformity: every row's largest weight is its mass / n_valid (within rounding)
    # the ratio is >= 1 (but for rounding), so the rows weighted 0 never give the largest
    ratio = row_max * (Lk if nv is None else nv) / mass.clamp_min(_TINY)
    raw["~gap"] = ratio.mul_(ent_f).amax()

    # what each key received from the good rows (columns) and the entropy rows (sinks)
    if Lq == 1:  # a product, where a batch of 1-row bmm is slow
        sink_got = (ent_f.reshape(B, H, 1) * pz.reshape(B, H, Lk)).sum(0)
        if rows_are_columns:
            # the largest share of a column is its row's largest weight (0 without mass)
            raw.update({"~cent": means["cent"][0], "~rmax": means["row_max"][0]})
            raw["~has"] = means["pos"][0]
        else:
            raw.update(column_sums(good_f.reshape(B * H, 1) * pz.reshape(B * H, Lk)))
    else:
        c = wf.shape[-1]
        got = torch.bmm(wf.reshape(B * H, Lq, c).transpose(1, 2), pz.reshape(B * H, Lq, Lk))
        raw.update(column_sums(got[:, 0]))  # [B * H, Lk]
        sink_got = got.view(B, H, c, Lk)[:, :, ent_col].sum(0)
    raw.update(sink_parts(sink_got, vf, ent_f, nv))
    if logits is not None:
        raw.update({"~lsum": means["lsum"][0], "~lsq": means["lsq"][0]})
        raw.update({"~above": means["above"][0], "~lrows": counts[stride][0], "~lmax": lg[1]})
        if "lnv" in means:
            raw["~lnv"] = means["lnv"][0]
    shape = _Shape(
        n,
        Lk,
        materialised,
        None if qv is None else n // qv.numel(),
        None if nv is None else (n // nv.numel(), nv.shape[1]),
    )
    return raw, functools.partial(_finish, shape=shape)


class _Table:
    """Per-row quantities grouped by the stride of rows they were taken on."""

    def __init__(self, wf: Tensor, n: int) -> None:
        self.wf = wf.reshape(n, -1)
        self.sets: dict[int, dict[str, Tensor]] = {}

    def add(self, stride: int, rows: dict[str, Tensor]) -> None:
        self.sets.setdefault(stride, {}).update(rows)

    def reduce(self) -> tuple[dict[str, tuple[Tensor, ...]], dict[int, tuple[Tensor, ...]]]:
        """-> the means per quantity (one 0-d tensor per weight column) and the weight
        counts per stride."""
        means: dict[str, tuple[Tensor, ...]] = {}
        counts: dict[int, tuple[Tensor, ...]] = {}
        c = self.wf.shape[1]
        for stride, rows in self.sets.items():
            w = self.wf[::stride] if stride > 1 else self.wf
            q = torch.stack(list(rows.values())).reshape(len(rows), -1)
            cnt = w.sum(0)
            # one unbind of every mean is cheaper than a select of each needed one
            m = ((q @ w) / cnt).flatten().unbind()  # [quantities, columns]
            for i, name in enumerate(rows):
                means[name] = m[i * c : (i + 1) * c]
            counts[stride] = cnt.unbind()
        return means, counts


def _row_parts(
    fin: Tensor, nv: Tensor | None, qv: Tensor | None, materialised: bool, dt: torch.dtype
) -> dict[str, Tensor]:
    """The reductions behind ``nan_rows``, ``masked_rows`` and ``n_valid`` (``_finish``).
    ``fin``: 0/1 finite rows; ``nv``: keys per row and ``qv``: real queries, each in its
    broadcast shape (each value stands for n / numel rows)."""
    if nv is None:  # every key valid: no masked row, Lk keys per row
        return {} if qv is None else {"~n_real": qv.sum()}
    no_key = (nv == 0).to(dt)
    if qv is None:
        out = {"n_valid": nv.mean()}  # the mean over the broadcast shape is over all rows
        if materialised:
            out.update({"~fin": fin.sum(), "masked_rows": (no_key * fin).sum()})
        else:
            out["~no_key"] = no_key.sum()
        return out
    # padding queries: over the real ones; nv * qv has every query, and 1 or H heads
    bad = (1 - fin) * qv if materialised else (1 - fin) * (1 - no_key) * qv
    out = {"~prod": (nv * qv).sum(), "~n_real": qv.sum(), "nan_rows": bad.sum()}
    if materialised:
        out["masked_rows"] = (no_key * fin).sum()
    else:
        out["~no_key"] = no_key.sum()
    return out


@dataclass(frozen=True)
class _Shape:
    """What ``_finish`` needs besides the reductions: the row count, the keys per row, the
    rows per value of the query mask and of the key counts (None: no such mask) and the
    key counts' heads."""

    n: int
    lk: int
    materialised: bool
    query_rows: int | None
    key_rows: tuple[int, int] | None  # (rows per value, heads)


def _finish(raw: Mapping[str, Num], shape: _Shape) -> dict[str, Num]:
    """The statistics from ``attention_parts``' reductions, on 0-d tensors or floats."""
    n, lk = shape.n, shape.lk
    out = {k: v for k, v in raw.items() if not k.startswith("~")}
    if "normalized_entropy" not in out:  # every key valid: log(Lk) for every row
        out["normalized_entropy"] = div(raw["entropy"], math.log(lk))
    good = raw["~good"]
    if shape.key_rows is None:  # no masked row, Lk keys per row
        out["masked_rows"] = 0.0
        if shape.query_rows is None:  # every row is a real query: the others are NaN rows
            out["nan_rows"], out["n_valid"] = n - good, float(lk)
        else:
            real = raw["~n_real"]
            out["nan_rows"] = real * shape.query_rows - good
            out["n_valid"] = div(real * lk, real)  # NaN, not Lk, without a real query
    else:
        rows, heads = shape.key_rows
        if not shape.materialised:
            out["masked_rows"] = raw["~no_key"] * rows
        if shape.query_rows is None:
            # the model's own: the rows that are not finite; else the rows with a key that
            # are not good
            no_row = n - raw["~fin"] if shape.materialised else n - out["masked_rows"] - good
            out["nan_rows"] = no_row
        else:
            out["n_valid"] = div(raw["~prod"], raw["~n_real"] * heads)
    out["uniform_gap"] = nan_unless(abs(raw["~gap"] - 1), raw["max_row_weight"])
    if "~cent" in raw:
        out["col_entropy"] = div(raw["~cent"], raw["~has"])
        out["max_col_sum"] = div(raw["~rmax"], raw["~has"])
    else:
        out["col_entropy"] = -div(raw["~col_ent"], raw["~col_pairs"])
        out["max_col_sum"] = div(raw["~col_max"], raw["~col_pairs"])
    out.update(finish_sinks(raw, lk, "~sink_lift" in raw))
    if "~lsum" in raw:
        out.update(finish_logits(raw, lk))
    return out


def attention_stats(
    probs: Tensor,
    valid: Tensor | None,
    query_valid: Tensor | None = None,
    logits: Tensor | None = None,
    saturation_threshold: float = 10.0,
    row_budget: int | None = 2048,
    materialised: bool = False,
    topk_budget: int | None = 128,
) -> dict[str, Tensor]:
    """``attention_parts``' statistics as 0-d tensors, finished on the device (no host
    read); the guard finishes them on the host after the step's one read instead."""
    raw, finish = attention_parts(
        probs,
        valid,
        query_valid,
        logits,
        saturation_threshold,
        row_budget,
        materialised,
        topk_budget,
    )
    ref = raw["mass"]
    return {
        k: v if isinstance(v, Tensor) else constant(float(v), ref.device, ref.dtype)
        for k, v in finish(raw).items()
    }


def _top_columns(pz: Tensor, lk: int, stride: int) -> dict[str, Tensor]:
    """Per sampled row, the top-5 / 10 / 50 masses that do not cover the whole row; those
    that do are the row's mass, taken exactly."""
    if lk <= 5:
        return {}
    pk = _rows(pz, stride)
    if lk <= 10:
        return {"top5": pk.topk(5, dim=-1, sorted=False).values.sum(-1)}
    top5, top10 = pk.topk(10, dim=-1, sorted=True).values.cumsum(-1)[..., 4::5].unbind(-1)
    if lk <= 50:
        return {"top5": top5, "top10": top10}
    # the 50 largest directly: selecting the Lk - 50 smallest instead is no cheaper, even
    # when they are fewer (on CPU, 64 keys: 61 against 48 us for 128 rows)
    top50 = pk.topk(50, dim=-1, sorted=False).values.sum(-1)
    return {"top5": top5, "top10": top10, "top50": top50}


def _logit_rows(
    logits: Tensor,
    valid: Tensor | None,
    nv: Tensor | None,
    rows: Tensor,
    stride: int,
    threshold: float,
) -> tuple[dict[str, Tensor], Tensor]:
    """Per sampled row: the sum, the sum of squares and the count above ``threshold`` of the
    absolute value of the logits on valid keys (and the count of valid keys); and the
    largest absolute logit of the ``rows`` (0/1, [B, H, Lq]) that count, over every row.
    The full-size tensor is read a handful of times: no full-size masks or casts."""
    # a where, not a product: a masked key's logit may be NaN on a row whose probabilities
    # are finite (a NaN-filled padding position), and it must not count
    lm = logits if valid is None else keep_or_zero(logits, valid)
    ls = _rows(lm, stride)
    per_row = {"lsum": ls.sum(-1), "lsq": torch.linalg.vector_norm(ls, dim=-1).square_()}
    absl = lm.abs() if valid is None else lm.abs_()  # ours to change, the signed copy done
    largest = absl.amax(-1).mul_(rows).amax() if absl.numel() else rows.sum() * 0
    # |logit| > threshold in place as float 0/1: a bool count would convert to int64 at
    # full size; a NaN logit (only on rows that do not count) compares false
    per_row["above"] = _rows(absl, stride).gt_(threshold).sum(-1)
    if nv is not None:
        per_row["lnv"] = _row_values(nv.expand(rows.shape), stride)
    return per_row, largest
