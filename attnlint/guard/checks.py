"""The five checks, on the host values of one sampled step -> Violations. Torch-free.

Each message names the site, the value, the bound, the likely cause and the page to read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from attnlint.guard.config import GuardConfig
from attnlint.records import AttentionStats, Check, Violation

DOCS = "docs/guard.md"
COLLAPSE_DOCS = "docs/attention-collapse.md"


def _v(
    check: Check, site: str, step: int, value: float | None, bound: float | None, text: str
) -> Violation:
    shown = "n/a" if value is None else f"{value:.4g}"
    limit = "n/a" if bound is None else f"{bound:.4g}"
    message = f"[{check}] step {step}, site '{site}': {text} (value {shown}, bound {limit})"
    return Violation(check=check, site=site, step=step, value=value, bound=bound, message=message)


def evaluate(
    *,
    step: int,
    config: GuardConfig,
    layers: Mapping[str, AttentionStats],
    order: Sequence[tuple[str, bool, bool]],
    input_bad: bool,
    output_bad: bool,
    score_nonfinite: float | None,
    degenerate_share: float | None,
    cheap: Mapping[str, float],
    cheap_since: int,
    uniform_streak: dict[str, int],
) -> list[Violation]:
    out: list[Violation] = []
    out += _finite(step, order, input_bad, output_bad, score_nonfinite, cheap, cheap_since)
    out += _relevance(step, config, degenerate_share, cheap, cheap_since)
    for site, st in layers.items():
        out += _site(step, config, site, st, uniform_streak)
    return out


def _finite(
    step: int,
    order: Sequence[tuple[str, bool, bool]],
    input_bad: bool,
    output_bad: bool,
    score_nonfinite: float | None,
    cheap: Mapping[str, float],
    since: int,
) -> list[Violation]:
    found: list[Violation] = []
    hint = f"see {DOCS}#finite_scores"
    # the first site, in execution order, where a non-finite value shows up
    first = next(((s, bi, bo) for s, bi, bo in order if bi or bo), None)
    if first is not None:
        site, bad_in, _ = first
        if bad_in and input_bad:
            where = "non-finite values are already in the model input (bad batch or features)"
        elif bad_in:
            where = (
                "non-finite values enter this site's input: they appeared upstream of it "
                "(encoder / embedding overflow, a bad division or log)"
            )
        else:
            where = (
                "this site's inputs are finite but its output is not: the attention itself "
                "overflowed (huge QK logits) or a row is fully masked"
            )
        found.append(_v("finite_scores", site, step, None, None, f"{where}; {hint}"))
    elif output_bad or input_bad:
        site = "input" if input_bad else "output"
        what = "model input" if input_bad else "model output"
        found.append(
            _v(
                "finite_scores",
                site,
                step,
                None,
                None,
                f"NaN or +inf in the {what}, outside every attention site; {hint}",
            )
        )
    if score_nonfinite:
        found.append(
            _v(
                "finite_scores",
                "scores",
                step,
                score_nonfinite,
                0.0,
                "non-finite values among the valid scores handed to check_scores; the loss "
                f"will be NaN, or silently masked if nan_to_num hides it; {hint}",
            )
        )
    for name in ("output", "scores"):
        n = cheap.get(name, 0.0)
        if n > 0:
            found.append(
                _v(
                    "finite_scores",
                    name,
                    step,
                    n,
                    0.0,
                    f"non-finite {name} in {n:.0f} unsampled call(s) since step {since}; "
                    f"lower `every` to localise the first site; {hint}",
                )
            )
    return found


def _relevance(
    step: int,
    config: GuardConfig,
    share: float | None,
    cheap: Mapping[str, float],
    since: int,
) -> list[Violation]:
    hint = f"see {DOCS}#relevance"
    found = []
    bound = config.relevance_max_degenerate_share
    if share is not None and share > bound:
        found.append(
            _v(
                "relevance",
                "relevance",
                step,
                share,
                bound,
                "share of lists with fewer than 2 valid items or constant relevance: a "
                "listwise loss (ListMLE) gets no ordering signal from them and the loss "
                f"goes flat; {hint}",
            )
        )
    n = cheap.get("relevance", 0.0)
    if n > 0:
        found.append(
            _v(
                "relevance",
                "relevance",
                step,
                n,
                0.0,
                f"degenerate relevance lists in {n:.0f} unsampled batch(es) since step "
                f"{since}; {hint}",
            )
        )
    return found


def _site(
    step: int,
    config: GuardConfig,
    site: str,
    st: AttentionStats,
    uniform_streak: dict[str, int],
) -> list[Violation]:
    found: list[Violation] = []
    var = st.input_variance
    if var is not None and var <= config.variance_min:
        found.append(
            _v(
                "encoder_variance",
                site,
                step,
                var,
                config.variance_min,
                "the inputs of this attention site do not vary across positions: the encoder "
                "(or the embedding feeding it) produces a constant, so attention cannot "
                f"select anything; see {DOCS}#encoder_variance",
            )
        )
    pooled = getattr(st, "pooled_variance", None)
    if pooled is not None and pooled <= config.variance_min:
        found.append(
            _v(
                "encoder_variance",
                site,
                step,
                pooled,
                config.variance_min,
                "the pooled outputs of this attention site are the same for every item of "
                "the batch: scores will be constant and the loss flat; see "
                f"{COLLAPSE_DOCS}",
            )
        )
    ne = st.normalized_entropy
    if ne is not None and ne < config.entropy_low:
        found.append(
            _v(
                "attention_entropy",
                site,
                step,
                ne,
                config.entropy_low,
                "normalised attention entropy is below the bound: one-hot collapse (QK logits "
                "too large: missing 1/sqrt(d) scaling, a learning rate too high, exploding "
                f"query/key weights); see {COLLAPSE_DOCS}",
            )
        )
    if ne is not None and ne > config.entropy_high and step >= config.entropy_warmup_steps:
        uniform_streak[site] = uniform_streak.get(site, 0) + 1
    else:
        uniform_streak[site] = 0
    if uniform_streak[site] >= config.entropy_high_patience:
        found.append(
            _v(
                "attention_entropy",
                site,
                step,
                ne,
                config.entropy_high,
                f"attention has stayed uniform for {uniform_streak[site]} sampled steps after "
                "warm-up: it selects nothing (constant keys, vanishing QK weights, or the "
                f"gradient never reaches them); see {COLLAPSE_DOCS}",
            )
        )
    if st.nan_rows:
        found.append(
            _v(
                "attention_mass",
                site,
                step,
                float(st.nan_rows),
                0.0,
                "rows with no valid key or NaN probabilities (a fully masked row: softmax of "
                f"all -inf is NaN); see {DOCS}#attention_mass",
            )
        )
    if st.mass is not None and st.mass < config.mass_min:
        found.append(
            _v(
                "attention_mass",
                site,
                step,
                st.mass,
                config.mass_min,
                "attention mass on the valid keys is far below 1: masked (padding) keys "
                "receive the attention because the logits outgrew the additive mask (the "
                f"seed's collapse to < 1e-6 on valid positions); see {COLLAPSE_DOCS}",
            )
        )
    return found
