"""What every check shares: building a Violation, default severities, hints, the state
that judges a site against its own early baseline. Torch-free."""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass, field

from attnlint.guard.config import GuardConfig
from attnlint.records import Check, Severity, Violation

# Hints name commands that work from an installed wheel (no repository paths).
GUIDE = "`attnlint docs guard`"
COLLAPSE = "`attnlint docs attention-collapse`"

# The default severity of each check (overridden per finding where a check has two
# levels, and per check by GuardConfig.severity). docs/guard.md lists them.
DEFAULT_SEVERITY: dict[Check, Severity] = {
    "finite_scores": "error",
    "relevance": "error",
    "encoder_variance": "error",
    "attention_entropy": "error",
    "attention_mass": "error",
    "uniform_attention": "error",  # exact uniformity; near-uniformity is a warning
    "attention_sink": "warning",
    "residual_update": "warning",
    "logit_growth": "warning",  # above logit_max_error: an error
    "score_scale": "error",  # growth against the baseline: a warning
    "constant_scores": "error",
    "grad_norm": "error",  # one module at zero while the total is not: a warning
    "grad_spike": "warning",
    "input_dim": "error",
}


def violation(
    config: GuardConfig,
    check: Check,
    site: str,
    step: int,
    value: float | None,
    bound: float | None,
    text: str,
    hint: str,
    severity: Severity | None = None,
) -> Violation:
    level = config.severity.get(check) or severity or DEFAULT_SEVERITY[check]
    shown = "n/a" if value is None else f"{value:.4g}"
    limit = "n/a" if bound is None else f"{bound:.4g}"
    message = (
        f"[{check}] step {step}, site '{site}': {text} (value {shown}, bound {limit}); see {hint}"
    )
    return Violation(
        check=check,
        site=site,
        step=step,
        value=value,
        bound=bound,
        message=message,
        severity=level,
        hint=f"see {hint}",
    )


@dataclass
class State:
    """What the checks remember between sampled steps of one guard."""

    early: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    streaks: dict[tuple[str, str], int] = field(default_factory=dict)
    sinks: dict[str, tuple[int, int, float]] = field(default_factory=dict)  # head, key, mass
    grad_totals: deque[float] = field(default_factory=lambda: deque(maxlen=20))
    previous: dict[str, float] = field(default_factory=dict)  # site -> last normalised entropy
    collapsed: set[str] = field(default_factory=set)  # sites in a collapse relative to baseline

    def baseline(self, site: str, stat: str, value: float | None, n: int) -> float | None:
        """Median of the site's first ``n`` sampled values of ``stat`` (the current value
        counts while the baseline is being formed, so a first step never differs from it)."""
        values = self.early.setdefault((site, stat), [])
        if value is not None and len(values) < n:
            values.append(value)
        return statistics.median(values) if values else None

    def streak(self, site: str, name: str, hit: bool) -> int:
        n = self.streaks.get((site, name), 0) + 1 if hit else 0
        self.streaks[(site, name)] = n
        return n
