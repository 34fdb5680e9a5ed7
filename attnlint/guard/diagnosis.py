"""Chain diagnosis after a loss plateau: which link of the seed's chain is broken.

The seed investigation (a DeepSet + SetAttention + ListMLE ranker whose loss went flat)
walked one chain by hand, upstream first, because a broken link makes every link below it
look broken too:

    inputs constant -> encoder constant -> attention collapsed -> pooled output constant
    -> scores constant -> relevance degenerate -> loss function -> gradients vanishing or
    clipped away

``diagnose_chain`` reads the full StepReport of the step after a plateau and returns one
finding per broken link, in chain order, each naming the link and its evidence; the first
finding is the upstream-most break ("first broken link"), the likely cause. Torch-free
unless ``loss_fn`` is given (the listwise-loss self-test needs torch).

The ListMLE fact: with all scores of a list equal, every ListMLE term is log(k) for the k
items still unplaced, so a list of L valid items costs log(L!) whatever the model and the
labels. The seed's "flat loss 27.8993" is log(15!) = 27.899271. A loss stuck at the mean
of log(L_i!) over the batch's lists is therefore evidence of constant scores by itself.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from typing import Any

from attnlint.records import AttentionStats, BatchStats, StepReport, Violation

LINKS = (
    "inputs constant",
    "encoder constant",
    "attention collapsed",
    "pooled output constant",
    "scores constant",
    "relevance degenerate",
    "loss function",
    "gradients vanishing or clipped away",
)

# The guard's variances are relative (var / mean square, scale-free): below 1e-8 is float32
# noise around a constant, not a signal (GuardConfig.variance_min has the same default).
VARIANCE_FLOOR = 1e-8
SCORE_STD_FLOOR = 1e-4
MASS_FLOOR = 0.5  # attention mass on valid keys; the seed's collapse had < 1e-6
ONE_HOT_ENTROPY = 0.05  # normalised row entropy below this is one-hot
ONE_HOT_ROW_WEIGHT = 0.99
# Total gradient norm below this: nothing reaches the parameters. 1e-6, not 0: with constant
# scores a shift-invariant loss still leaves float32 round-off (~1e-8) on a scorer bias.
GRAD_FLOOR = 1e-6
GRAD_HUGE = 1e3  # above this a max_norm ~ 1 clip shrinks every update by >= 1000x
DEGENERATE_SHARE = 0.5  # share of lists with constant relevance or < 2 valid items
LOG_FACTORIAL_RTOL = 1e-3
PLATEAU_WINDOW = 10


def log_factorial(n: float) -> float:
    """log(n!), also for a non-integer n (lgamma)."""
    return math.lgamma(n + 1.0)


def _g(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.4g}"


def _violations(report: StepReport, *checks: str) -> list[Violation]:
    return [v for v in report.violations if v.check in checks]


def _inputs(batch: BatchStats | None) -> list[str]:
    if batch is None or batch.input_min is None or batch.input_max is None:
        return []
    spread = batch.input_max - batch.input_min
    scale = 1.0 + abs(batch.input_mean or 0.0)
    if spread <= 1e-8 * scale:
        return [
            f"batch inputs are constant: min {_g(batch.input_min)} = max "
            f"{_g(batch.input_max)}; nothing downstream can vary (check the feature "
            "pipeline: all-zero or identical rows)"
        ]
    return []


def _encoder(report: StepReport) -> list[str]:
    out = []
    for site, st in report.layers.items():
        if st.input_variance is not None and st.input_variance <= VARIANCE_FLOOR:
            out.append(
                f"input of attention site '{site}' has variance {_g(st.input_variance)} "
                f"over positions (floor {VARIANCE_FLOOR:g}): the encoder output is constant"
            )
    out += [v.message for v in _violations(report, "encoder_variance") if not _pooled_v(v)]
    return out


def _pooled_v(v: Violation) -> bool:
    # the guard reports both site inputs and attention-pooled outputs as encoder_variance
    return "pooled" in v.message


def _collapsed(site: str, st: AttentionStats) -> list[str]:
    out = []
    if st.mass is not None and st.mass < MASS_FLOOR:
        out.append(f"site '{site}': attention mass on valid keys {_g(st.mass)} (healthy ~1)")
    if st.nan_rows:
        out.append(f"site '{site}': {st.nan_rows} attention rows are NaN (fully masked?)")
    multi = st.n_valid is None or st.n_valid > 1.5
    if multi and st.normalized_entropy is not None and st.normalized_entropy < ONE_HOT_ENTROPY:
        out.append(
            f"site '{site}': normalised entropy {_g(st.normalized_entropy)} "
            f"(< {ONE_HOT_ENTROPY}: one-hot attention)"
        )
    elif multi and st.max_row_weight is not None and st.max_row_weight > ONE_HOT_ROW_WEIGHT:
        out.append(f"site '{site}': max row weight {_g(st.max_row_weight)} (one-hot)")
    return out


def _attention(report: StepReport) -> list[str]:
    out = [e for site, st in report.layers.items() for e in _collapsed(site, st)]
    out += [v.message for v in _violations(report, "attention_entropy", "attention_mass")]
    return out


def _pooled(report: StepReport) -> list[str]:
    out = []
    for site, st in report.layers.items():
        pooled = getattr(st, "pooled_variance", None)  # attention-pooling sites only
        if pooled is not None and pooled <= VARIANCE_FLOOR:
            out.append(
                f"pooled output of site '{site}' has variance {_g(pooled)} over the batch "
                f"(floor {VARIANCE_FLOOR:g}): every list gets the same representation"
            )
    if not out:
        out += [v.message for v in _violations(report, "encoder_variance") if _pooled_v(v)]
    return out


def _expected_listmle(batch: BatchStats | None) -> tuple[float, float, str] | None:
    """(low, high, description) of the loss a constant-score ListMLE gives on this batch."""
    if batch is None:
        return None
    lengths = getattr(batch, "list_lengths", None)
    if lengths:
        value = statistics.fmean(log_factorial(n) for n in lengths)
        return value, value, f"mean log(L!) over the {len(lengths)} lists = {value:.6g}"
    lo, hi = batch.list_len_min, batch.list_len_max
    if lo is None or hi is None:
        return None
    if lo == hi:
        value = log_factorial(lo)
        return value, value, f"log({lo:g}!) = {value:.6g}"
    return (
        log_factorial(lo),
        log_factorial(hi),
        f"between log({lo:g}!) = {log_factorial(lo):.6g} and log({hi:g}!) = "
        f"{log_factorial(hi):.6g}",
    )


def _plateau_level(losses: Sequence[float]) -> float | None:
    tail = [float(x) for x in losses[-PLATEAU_WINDOW:] if math.isfinite(float(x))]
    return statistics.median(tail) if tail else None


def _scores(report: StepReport, losses: Sequence[float]) -> list[str]:
    out = []
    batch = report.batch
    flat = False
    if batch is not None:
        if batch.score_nonfinite:
            out.append(f"{batch.score_nonfinite} scores are NaN/inf")
        std = batch.score_std
        if std is None and batch.score_min is not None and batch.score_max is not None:
            std = (batch.score_max - batch.score_min) / 2.0
        if std is not None and std <= SCORE_STD_FLOOR:
            flat = True
            out.append(
                f"score spread {_g(std)} (min {_g(batch.score_min)}, max "
                f"{_g(batch.score_max)}): the model gives every item the same score"
            )
    if report.output_variance is not None and report.output_variance <= VARIANCE_FLOOR:
        # the model's own output, for a ranker the scores themselves
        out.append(
            f"the model output's variance over the batch is {_g(report.output_variance)} "
            f"(floor {VARIANCE_FLOOR:g})"
        )
        flat = True
    out += [v.message for v in _violations(report, "finite_scores")]
    level = _plateau_level(losses)
    expected = _expected_listmle(batch)
    if level is not None and expected is not None:
        lo, hi, desc = expected
        count = batch.list_count if batch is not None else None
        for factor, reduction in ((1.0, "mean"), (float(count or 0), "sum")):
            if factor <= 0:
                continue
            tol = LOG_FACTORIAL_RTOL * max(1.0, hi * factor)
            if lo * factor - tol <= level <= hi * factor + tol:
                what = "itself evidence of constant scores" if flat or lo == hi else "consistent"
                out.append(
                    f"the loss is stuck at {level:.6g} = {desc}"
                    f"{' (x list count, sum reduction)' if reduction == 'sum' else ''}: "
                    f"what a ListMLE loss gives for constant scores whatever the model ({what})"
                )
                break
    return out


def _relevance(batch: BatchStats | None, report: StepReport) -> list[str]:
    out = []
    if batch is not None:
        share = batch.degenerate_list_share
        if share is not None and share >= DEGENERATE_SHARE:
            out.append(
                f"{share:.0%} of the lists have constant relevance or fewer than 2 valid items "
                f"(relevance std {_g(batch.rel_std)}, list length min {_g(batch.list_len_min)})"
            )
        elif batch.list_len_max is not None and batch.list_len_max < 2:
            out.append(f"every list has at most {batch.list_len_max:g} item: nothing to rank")
    out += [v.message for v in _violations(report, "relevance")]
    return out


def _loss_function(loss_fn: Callable[..., Any] | None) -> list[str]:
    if loss_fn is None:
        return []
    from attnlint.guard.selftest import selftest_listwise_loss

    result = selftest_listwise_loss(loss_fn)
    return [f"loss self-test: {f}" for f in result.failures]


def _gradients(report: StepReport) -> list[str]:
    norms = report.grad_norms
    if not norms:
        return []
    out = []
    total = norms.get("total")
    if total is None or total <= GRAD_FLOOR:
        out.append(f"total gradient norm before clipping {_g(total)}: gradients vanish")
    elif total >= GRAD_HUGE:
        out.append(
            f"total gradient norm before clipping {_g(total)}: a clip at max_norm=c scales "
            f"every update by c/{total:.3g} (clipped away; log what clip_grad_norm_ returns)"
        )
    if total is not None and total > GRAD_FLOOR:
        for name, norm in norms.items():
            if name != "total" and (norm is None or norm <= GRAD_FLOOR):
                out.append(
                    f"module '{name}' gets gradient norm {_g(norm)} while the total is "
                    f"{total:.3g}: no gradient reaches it"
                )
    return out


def diagnose_chain(
    report: StepReport,
    losses: Sequence[float],
    loss_fn: Callable[..., Any] | None = None,
) -> list[str]:
    """Findings, first broken link first, then the links below it in chain order."""
    evidence = {
        "inputs constant": _inputs(report.batch),
        "encoder constant": _encoder(report),
        "attention collapsed": _attention(report),
        "pooled output constant": _pooled(report),
        "scores constant": _scores(report, losses),
        "relevance degenerate": _relevance(report.batch, report),
        "loss function": _loss_function(loss_fn),
        "gradients vanishing or clipped away": _gradients(report),
    }
    broken = [link for link in LINKS if evidence[link]]
    if not broken:
        level = _plateau_level(losses)
        return [
            f"no broken link found (loss plateau at {_g(level)}): inputs, encoder, attention, "
            "pooled output, scores, relevance and gradients all look healthy; try another "
            "learning rate (AL101) or accept convergence"
        ]
    findings = []
    for i, link in enumerate(broken):
        # Later links may only be consequences of the first; they are listed, not blamed.
        tag = "first broken link" if i == 0 else "also broken"
        findings.append(f"{link} ({tag}): " + "; ".join(evidence[link]))
    return findings
