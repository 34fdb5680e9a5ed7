"""The checks, on the host values of one sampled step -> Violations. Torch-free.

Each Violation names the check, the site, the step, the value, the bound, its severity
and a hint naming a command that shows the guide or the rule to read
(``common.DEFAULT_SEVERITY``; docs/guard.md lists them with their thresholds).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from attnlint.guard.checks import attention, numeric
from attnlint.guard.checks.common import DEFAULT_SEVERITY, State
from attnlint.guard.config import GuardConfig
from attnlint.records import AttentionStats, BatchStats, Violation

__all__ = ["DEFAULT_SEVERITY", "State", "evaluate"]


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
    uniform_streak: dict[str, Any] | None = None,
    state: State | None = None,
    batch: BatchStats | None = None,
    grad_norms: Mapping[str, float | None] | None = None,
) -> list[Violation]:
    """``state`` carries baselines and streaks between steps; callers that predate it pass
    ``uniform_streak`` (a dict the guard keeps for its lifetime), which then holds it."""
    if state is None:
        holder = uniform_streak if uniform_streak is not None else {}
        state = holder.setdefault("__state__", State())
    out: list[Violation] = []
    out += numeric.finite(
        step, config, order, layers, input_bad, output_bad, score_nonfinite, cheap, cheap_since
    )
    out += numeric.relevance(step, config, degenerate_share, cheap, cheap_since)
    out += numeric.input_dim(step, config, batch)
    out += numeric.scores(step, config, batch, state)
    if grad_norms:
        out += numeric.grads(step, config, grad_norms, state)
    for name, st in layers.items():
        out += attention.site(step, config, name, st, state)
    return out
