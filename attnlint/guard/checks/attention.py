"""Checks on one attention site's statistics: variance, collapse, uniformity, mass, sinks,
logit growth and residual updates. Each judged, where a fresh model would trip an absolute
bound, against the site's own early baseline (``State.baseline``)."""

from __future__ import annotations

from attnlint.guard.checks.common import COLLAPSE, GUIDE, State, violation
from attnlint.guard.config import GuardConfig
from attnlint.records import AttentionStats, Violation


def site(
    step: int, config: GuardConfig, name: str, st: AttentionStats, state: State
) -> list[Violation]:
    out = _variance(step, config, name, st)
    if not _sink_explains(config, st):
        out += _collapse(step, config, name, st, state)
    out += _uniform(step, config, name, st, state)
    out += _mass(step, config, name, st)
    out += _sink(step, config, name, st, state)
    out += _logits(step, config, name, st, state)
    out += _residual(step, config, name, st, state)
    return out


def _sink_explains(config: GuardConfig, st: AttentionStats) -> bool:
    """Rows that are one-hot on one shared key are a sink (the diagnostics table's "all
    queries attend to the same token"), reported as attention_sink rather than a collapse;
    rows one-hot on keys of their own are a collapse."""
    mass, lift, top = st.sink_mass, st.sink_lift, st.max_row_weight
    if mass is None or lift is None or top is None:
        return False
    return mass > config.sink_mass_min and lift > config.sink_lift_min and mass >= 0.9 * top


def _variance(step: int, config: GuardConfig, name: str, st: AttentionStats) -> list[Violation]:
    found = []
    bound = config.variance_min
    if st.input_variance is not None and st.input_variance <= bound:
        text = (
            "the inputs of this attention site do not vary across positions: the encoder (or "
            "the embedding feeding it) produces a constant, so attention cannot select anything"
        )
        hint = f"{COLLAPSE}, `attnlint rule AL201`"
        found.append(
            violation(config, "encoder_variance", name, step, st.input_variance, bound, text, hint)
        )
    if st.pooled_variance is not None and st.pooled_variance <= bound:
        text = (
            "the pooled outputs of this attention site are the same for every item of the "
            "batch: scores will be constant and the loss flat"
        )
        found.append(
            violation(
                config, "encoder_variance", name, step, st.pooled_variance, bound, text, COLLAPSE
            )
        )
    return found


def _collapse(
    step: int, config: GuardConfig, name: str, st: AttentionStats, state: State
) -> list[Violation]:
    ne, top = st.normalized_entropy, st.max_row_weight
    base = state.baseline(name, "normalized_entropy", ne, config.baseline_steps)
    prev = state.previous.get(name)
    if ne is not None:
        state.previous[name] = ne
    why = (
        "one-hot collapse: QK logits too large (missing 1/sqrt(d) scaling, a learning rate "
        "too high, exploding query/key weights)"
    )
    hint = f"{COLLAPSE}, `attnlint rule AL401`, `attnlint rule AL101`"
    found: tuple[float, float, str] | None = None
    if ne is not None and ne < config.entropy_low:
        found = (ne, config.entropy_low, "normalised attention entropy is below the bound")
    elif top is not None and top > config.max_row_weight_high:
        found = (
            top,
            config.max_row_weight_high,
            "mean largest attention weight per row is above the bound",
        )
    elif (
        ne is not None
        and base is not None
        and top is not None
        and ne < config.entropy_drop * base
        and top > config.entropy_drop_max_row_weight
    ):
        found = (
            ne,
            config.entropy_drop * base,
            f"normalised entropy fell from its baseline {base:.3g} and the mean largest "
            f"weight per row is {top:.3g}",
        )
    if found is None:
        state.collapsed.discard(name)
        return []
    # Learned sharp attention (a copy head) also ends one-hot, but gets there gradually and
    # with moderate logits: measured down to H 0.126 with max row weight 0.90 and largest
    # logit 17.9 in a healthy run, while collapses are abrupt between samples or come with
    # logits in the hundreds (the demo's: 148 to 2349). A site that collapsed stays
    # reported until it recovers.
    gradual = name not in state.collapsed and prev is not None and ne is not None and prev < 2 * ne
    tame = st.logit_max is not None and st.logit_max <= config.logit_max_warn
    if gradual and tame:
        return []
    state.collapsed.add(name)
    value, bound, text = found
    return [
        violation(config, "attention_entropy", name, step, value, bound, f"{text}: {why}", hint)
    ]


def _uniform(
    step: int, config: GuardConfig, name: str, st: AttentionStats, state: State
) -> list[Violation]:
    hint = f"{GUIDE} (uniform_attention), {COLLAPSE}"
    gap = st.uniform_gap
    if gap is not None and gap <= config.uniform_tolerance:
        text = (
            "attention is exactly uniform over the valid keys (largest weight = 1/n_valid on "
            "every row): the query or key projection is zero or every key is identical, so "
            "this site averages and selects nothing; no freshly initialised model does this"
        )
        return [
            violation(
                config, "uniform_attention", name, step, gap, config.uniform_tolerance, text, hint
            )
        ]
    ne = st.normalized_entropy
    base = state.baseline(name, "normalized_entropy", None, config.baseline_steps)
    near = (
        ne is not None
        and step >= config.entropy_warmup_steps
        and ne > config.entropy_high
        and (base is None or ne >= base - config.uniform_baseline_margin)
    )
    n = state.streak(name, "uniform", near)
    if n >= config.entropy_high_patience:
        text = (
            f"attention has stayed near uniform, where it started, for {n} sampled steps "
            "after warm-up: it selects nothing (constant keys, vanishing QK weights, or the "
            "gradient never reaches them)"
        )
        return [
            violation(
                config,
                "uniform_attention",
                name,
                step,
                ne,
                config.entropy_high,
                text,
                hint,
                "warning",
            )
        ]
    return []


def _mass(step: int, config: GuardConfig, name: str, st: AttentionStats) -> list[Violation]:
    found = []
    hint = f"{GUIDE} (attention_mass), `attnlint rule AL402`"
    if st.nan_rows:
        text = (
            "rows with NaN probabilities: a fully masked row through softmax(-inf), or NaN "
            "logits (a fully masked row filled with a finite value such as finfo.min is not "
            "this: it is counted in masked_rows)"
        )
        found.append(
            violation(config, "attention_mass", name, step, float(st.nan_rows), 0.0, text, hint)
        )
    if st.mass is not None and st.mass < config.mass_min:
        text = (
            "attention mass on the valid keys is far below 1: masked (padding) keys receive "
            "the attention because the logits outgrew the additive mask"
        )
        found.append(
            violation(
                config, "attention_mass", name, step, st.mass, config.mass_min, text, COLLAPSE
            )
        )
    return found


def _sink(
    step: int, config: GuardConfig, name: str, st: AttentionStats, state: State
) -> list[Violation]:
    mass, lift = st.sink_mass, st.sink_lift
    if mass is None or lift is None or st.sink_key is None:
        return []
    if mass <= config.sink_mass_min or lift <= config.sink_lift_min:
        return []
    head = st.sink_head if st.sink_head is not None else 0
    last = state.sinks.get(name)
    if last is not None and last[:2] == (head, st.sink_key) and mass < last[2] + config.sink_growth:
        return []
    state.sinks[name] = (head, st.sink_key, mass)
    if last is None:
        what = "an attention sink formed"
    elif last[:2] != (head, st.sink_key):
        what = f"the attention sink moved from key {last[1]} (head {last[0]})"
    else:
        what = f"the attention sink grew from {last[2]:.3g}"
    text = (
        f"{what}: key {st.sink_key} (head {head}) takes {mass:.0%} of the attention of the "
        f"queries that may attend to it, {lift:.3g}x what uniform attention gives; common and "
        "often benign in trained language models, a problem when a set or ranking model's "
        "pooling attends to one position whatever the input"
    )
    return [
        violation(
            config,
            "attention_sink",
            name,
            step,
            mass,
            config.sink_mass_min,
            text,
            f"{GUIDE} (attention_sink)",
        )
    ]


def _logits(
    step: int, config: GuardConfig, name: str, st: AttentionStats, state: State
) -> list[Violation]:
    top = st.logit_max
    base = state.baseline(name, "logit_max", top, config.baseline_steps)
    if top is None:
        return []
    hint = f"{GUIDE} (logit_growth), `attnlint rule AL401`, `attnlint rule AL101`"
    why = (
        "attention-logit growth, the instability Wortsman et al. 2023 (arXiv:2309.14322) "
        "saw diverge once the largest logit passed about 1e4; QK-layernorm or a lower "
        "learning rate bound it"
    )
    if top > config.logit_max_error:
        text = f"the largest scaled QK logit is above the divergence bound: {why}"
        return [
            violation(
                config, "logit_growth", name, step, top, config.logit_max_error, text, hint, "error"
            )
        ]
    bound = max(config.logit_max_warn, config.logit_growth * (base or 0.0))
    if top > bound:
        grown = f" ({top / base:.3g}x its baseline)" if base else ""
        text = f"the largest scaled QK logit grew{grown}: {why}"
        return [violation(config, "logit_growth", name, step, top, bound, text, hint)]
    return []


def _residual(
    step: int, config: GuardConfig, name: str, st: AttentionStats, state: State
) -> list[Violation]:
    ratio = st.residual_ratio
    base = state.baseline(name, "residual_ratio", ratio, config.baseline_steps)
    if ratio is None:
        return []
    hint = f"{GUIDE} (residual_update)"
    n = state.streak(name, "vanishing", ratio < config.residual_min)
    if n >= config.residual_patience:
        text = (
            f"the block holding this site has changed its input by almost nothing for {n} "
            "sampled steps (residual update ratio -> 0; healthy 0.1-1.0): a dead layer"
        )
        return [
            violation(config, "residual_update", name, step, ratio, config.residual_min, text, hint)
        ]
    grown = base is not None and ratio > config.residual_growth * base
    if ratio > config.residual_hard_max or (ratio > config.residual_max and grown):
        bound = config.residual_hard_max if not grown else config.residual_max
        text = (
            "the block holding this site dominates the residual stream (update ratio >> 1; "
            "healthy 0.1-1.0): exploding updates, usually before a divergence"
        )
        return [violation(config, "residual_update", name, step, ratio, bound, text, hint)]
    return []
