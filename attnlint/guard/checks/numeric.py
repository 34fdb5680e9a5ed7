"""Checks on the batch and the optimiser: finite values, relevance, scores, gradients."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence

from attnlint.guard.checks.common import COLLAPSE, GUIDE, State, violation
from attnlint.guard.config import GuardConfig
from attnlint.records import AttentionStats, BatchStats, Violation


def finite(
    step: int,
    config: GuardConfig,
    order: Sequence[tuple[str, bool, bool]],
    layers: Mapping[str, AttentionStats],
    input_bad: bool,
    output_bad: bool,
    score_nonfinite: float | None,
    cheap: Mapping[str, float],
    since: int,
) -> list[Violation]:
    found: list[Violation] = []
    hint = f"{GUIDE} (finite_scores), `attnlint rule AL402`"

    def add(site: str, value: float | None, bound: float | None, text: str) -> None:
        found.append(violation(config, "finite_scores", site, step, value, bound, text, hint))

    # the first site, in execution order, where a non-finite value shows up
    first = next(((s, bi, bo) for s, bi, bo in order if bi or bo), None)
    if first is not None:
        site, bad_in, _ = first
        masked = layers[site].masked_rows if site in layers else None
        if bad_in and input_bad:
            where = "non-finite values are already in the model input (bad batch or features)"
        elif bad_in:
            where = (
                "non-finite values enter this site's input: they appeared upstream of it "
                "(encoder / embedding overflow, a bad division or log)"
            )
        elif masked:
            where = (
                f"this site's inputs are finite but its output is not, and {masked} row(s) "
                "have no valid key: a fully masked row through softmax(-inf) is NaN (fill "
                "with a finite value such as finfo.min, or drop the row)"
            )
        else:
            where = (
                "this site's inputs are finite but its output is not: the attention itself "
                "overflowed (huge QK logits)"
            )
        add(site, None, None, where)
    elif output_bad or input_bad:
        what = "model input" if input_bad else "model output"
        add(
            "input" if input_bad else "output",
            None,
            None,
            f"NaN or +inf in the {what}, outside every attention site",
        )
    if score_nonfinite:
        add(
            "scores",
            score_nonfinite,
            0.0,
            "non-finite values among the valid scores handed "
            "to check_scores; the loss will be NaN, or silently masked if nan_to_num hides it",
        )
    for name in ("output", "scores"):
        n = cheap.get(name, 0.0)
        if n > 0:
            unit = "element(s)" if name == "scores" else "forward(s)"
            add(
                name,
                n,
                0.0,
                f"non-finite {name} in {n:.0f} {unit} of unsampled steps since "
                f"step {since}; lower `every` to localise the first site",
            )
    return found


def relevance(
    step: int, config: GuardConfig, share: float | None, cheap: Mapping[str, float], since: int
) -> list[Violation]:
    hint = f"{GUIDE} (relevance)"
    found = []
    bound = config.relevance_max_degenerate_share
    if share is not None and share > bound:
        text = (
            "share of lists with fewer than 2 valid items or constant relevance: a listwise "
            "loss (ListMLE) gets no ordering signal from them and the loss goes flat"
        )
        found.append(violation(config, "relevance", "relevance", step, share, bound, text, hint))
    n = cheap.get("relevance", 0.0)
    if n > 0:
        text = f"degenerate relevance lists in {n:.0f} unsampled batch(es) since step {since}"
        found.append(violation(config, "relevance", "relevance", step, n, 0.0, text, hint))
    return found


def input_dim(step: int, config: GuardConfig, batch: BatchStats | None) -> list[Violation]:
    """The seed's stat_dim bug: a model configured for one width fed another."""
    if batch is None or batch.input_dim is None or batch.input_dim_seen is None:
        return []
    if batch.input_dim == batch.input_dim_seen:
        return []
    text = (
        f"the input's last dimension is {batch.input_dim_seen}, the declared one "
        f"(set_input_dim) {batch.input_dim}: features are missing, extra or misaligned"
    )
    value, bound = float(batch.input_dim_seen), float(batch.input_dim)
    hint = "`attnlint rule AL201`"
    return [violation(config, "input_dim", "input", step, value, bound, text, hint)]


def scores(
    step: int, config: GuardConfig, batch: BatchStats | None, state: State
) -> list[Violation]:
    """Exploding and constant scores (the seed's constant Z -> constant scores -> flat loss)."""
    if batch is None or batch.score_abs_max is None:
        return []
    found: list[Violation] = []
    top = batch.score_abs_max
    base = state.baseline("scores", "score_abs_max", top, config.baseline_steps)
    hint = f"{GUIDE} (score_scale), `attnlint rule AL302`"
    if top > config.score_abs_max:
        text = (
            "the largest valid score is far outside any loss's useful range: the scorer or "
            "an unnormalised activation exploded (a learning rate too high, no final norm)"
        )
        found.append(
            violation(config, "score_scale", "scores", step, top, config.score_abs_max, text, hint)
        )
    elif base is not None and top > max(100.0, config.score_growth * base):
        bound = max(100.0, config.score_growth * base)
        text = f"the largest valid score grew {top / max(base, 1e-30):.3g}x over its baseline"
        found.append(
            violation(config, "score_scale", "scores", step, top, bound, text, hint, "warning")
        )
    spread = batch.score_spread_max
    if spread is not None:
        bound = config.constant_scores_tolerance * max(top, 1e-30)
        n = state.streak("scores", "constant", spread <= bound)
        if n >= config.constant_scores_patience:
            text = (
                f"every list's scores have been constant for {n} sampled steps: constant "
                "pooled vectors or a dead scorer give every item the same score, so the "
                "ranking loss cannot move (check encoder_variance upstream)"
            )
            found.append(
                violation(
                    config,
                    "constant_scores",
                    "scores",
                    step,
                    spread,
                    bound,
                    text,
                    f"{COLLAPSE}, `attnlint rule AL301`",
                )
            )
    return found


def grads(
    step: int, config: GuardConfig, norms: Mapping[str, float | None], state: State
) -> list[Violation]:
    """Zero or non-finite gradient norms (total and per module), and spikes in the total."""
    found: list[Violation] = []
    total = norms.get("total")
    hint = f"{GUIDE} (grad_norm), `attnlint rule AL103`"
    for name, value in norms.items():
        if value is None:
            continue
        if value > config.grad_zero:
            state.streak(name, "zero_grad", False)
        if not math.isfinite(value):
            text = (
                "non-finite gradient norm before clipping: clip_grad_norm_ turns it into NaN "
                "weights, and a GradScaler step skips it silently"
            )
            found.append(violation(config, "grad_norm", name, step, value, None, text, hint))
        elif value <= config.grad_zero:
            if name == "total":
                text = (
                    "the total gradient norm is zero: nothing is learning (the loss is detached, "
                    "constant, or scrubbed by nan_to_num / a clamp)"
                )
                level = None
            elif total is not None and total > config.grad_zero:
                # twice in a row: a zero-initialised gate (ReZero, adaLN-Zero) cuts its
                # module off for the first step only
                if state.streak(name, "zero_grad", True) < 2:
                    continue
                text = (
                    "this module gets no gradient while the rest of the model does: the "
                    "problem is upstream of it or it is cut off (a fallback branch, a detach)"
                )
                level = "warning"
            else:
                continue
            found.append(
                violation(
                    config, "grad_norm", name, step, value, config.grad_zero, text, hint, level
                )
            )
    if total is None or not math.isfinite(total):
        return found
    window = state.grad_totals
    if window.maxlen != config.grad_window:
        window = state.grad_totals = type(window)(window, maxlen=config.grad_window)
    if len(window) >= config.grad_window_min:
        median = statistics.median(window)
        bound = config.grad_spike_factor * median
        if median > 0 and total > bound:
            text = (
                f"the total gradient norm is {total / median:.3g}x the median of the last "
                f"{len(window)} sampled steps: a bad batch or the start of a divergence"
            )
            found.append(
                violation(
                    config,
                    "grad_spike",
                    "total",
                    step,
                    total,
                    bound,
                    text,
                    f"{GUIDE} (grad_spike), `attnlint rule AL102`",
                )
            )
    window.append(total)
    return found
