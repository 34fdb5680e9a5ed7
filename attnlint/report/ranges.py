"""Healthy ranges shown beside the values in ``attnlint report`` and shaded in the plot.

Where practice gives a range (max row weight 0.1-0.5, residual ratio 0.1-1.0) it is shown
as a rule of thumb: shaded, never flagged, since it depends on the set size and the task.
Attention mass follows from its definition (softmax rows sum to 1). The entropy and mass
bounds are the guard's own thresholds when the run log's header carries them. Statistics
whose healthy value depends on the set size (effective rank, top-k, column sums) get a
note instead of a band: a band would be wrong for most models.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Band:
    low: float | None = None
    high: float | None = None
    note: str = ""
    high_from_step: int = 0  # the upper bound applies from this step (the guard's warm-up)
    # A rule of thumb, not a check: shown and shaded, never flagged,
    # because the right value depends on the set size and the task.
    advisory: bool = False

    def contains(self, value: float | None, step: int | None = None) -> bool | None:
        """True/False when the value can be judged, None when there is no band."""
        if value is None or self.advisory or (self.low is None and self.high is None):
            return None
        if self.low is not None and value < self.low:
            return False
        if step is not None and step < self.high_from_step:
            return True
        return not (self.high is not None and value > self.high)

    def text(self) -> str:
        if self.low is not None and self.high is not None:
            band = f"{self.low:g}-{self.high:g}"
        elif self.low is not None:
            band = f">= {self.low:g}"
        elif self.high is not None:
            band = f"<= {self.high:g}"
        else:
            band = ""
        return f"{band} ({self.note})" if band and self.note else band or self.note


# Per-site statistics, in the order the report lists them.
ATTENTION: dict[str, Band] = {
    "entropy": Band(note="0 one-hot, log n uniform"),
    "normalized_entropy": Band(0.1, 0.995, "H/log n"),
    "effective_rank": Band(note="1 one-hot, n uniform"),
    "top5": Band(note="~1 concentrated"),
    "top10": Band(note="~1 concentrated"),
    "top50": Band(),
    "max_row_weight": Band(0.1, 0.5, "guide; ->1 one-hot", advisory=True),
    "col_entropy": Band(note="low: a sink"),
    "max_col_sum": Band(note="->n: a sink"),
    "mass": Band(0.99, 1.01, "softmax row sum"),
    "nan_rows": Band(None, 0, "fully masked rows"),
    "input_variance": Band(note="~0: constant encoder"),
    "residual_ratio": Band(0.1, 1.0, "guide", advisory=True),
    "logit_std": Band(),
    "logit_saturation": Band(),
}

BATCH: dict[str, Band] = {
    "list_count": Band(),
    "list_len_min": Band(2, None, "a list needs 2 items"),
    "list_len_mean": Band(),
    "list_len_max": Band(),
    "rel_std": Band(note="~0: degenerate"),
    "degenerate_list_share": Band(None, 0.0, "constant relevance"),
    "rel_min": Band(),
    "rel_max": Band(),
    "score_min": Band(),
    "score_max": Band(),
    "score_std": Band(note="~0: constant scores"),
    "score_nonfinite": Band(None, 0, "NaN/inf"),
    "input_min": Band(),
    "input_max": Band(),
    "input_mean": Band(),
    "input_dim": Band(),
}

# Keys a guard config may use for the entropy bounds (H/log n).
_ENTROPY_KEYS = (("entropy_low", "entropy_high"), ("min_entropy", "max_entropy"))


def attention_bands(header: Mapping[str, Any]) -> dict[str, Band]:
    """ATTENTION with the entropy band replaced by the run's own guard thresholds."""
    bands = dict(ATTENTION)
    config = header.get("guard_config") or header.get("config") or {}
    if isinstance(config, Mapping):
        for lo_key, hi_key in _ENTROPY_KEYS:
            lo, hi = config.get(lo_key), config.get(hi_key)
            if isinstance(lo, int | float) or isinstance(hi, int | float):
                warmup = config.get("entropy_warmup_steps")
                bands["normalized_entropy"] = Band(
                    lo if isinstance(lo, int | float) else None,
                    hi if isinstance(hi, int | float) else None,
                    "guard, H/log n",
                    high_from_step=warmup if isinstance(warmup, int) else 0,
                )
                break
        mass_min = config.get("mass_min")
        if isinstance(mass_min, int | float):
            bands["mass"] = Band(mass_min, 1.01, "guard")
    return bands
