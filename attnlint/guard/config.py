"""GuardConfig: thresholds and sampling of the guard. Torch-free (the CLI reads it).

Every threshold is documented in docs/guard.md; the defaults are chosen so that no healthy,
freshly initialised model fires (attention is near uniform at initialisation).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from attnlint.records import Check, Severity

Action = Literal["raise", "warn", "log", "ignore"]


class GuardConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    # -- sampling -------------------------------------------------------------------------
    every: int = Field(1, ge=1, description="full statistics on one step in N")
    on_violation: Literal["raise", "warn", "log"] = Field(
        "raise",
        description=(
            "what an error does; a warning never does more than warn, an info is logged "
            "(attnlint.guard.policy)"
        ),
    )
    on_severity: dict[Severity, Action] = Field(
        default_factory=dict, description="action per severity, overriding on_violation"
    )
    on_check: dict[Check, Action] = Field(
        default_factory=dict, description="action per check, overriding on_severity"
    )
    severity: dict[Check, Severity] = Field(
        default_factory=dict, description="severity per check, overriding its default"
    )
    cheap_checks: bool = Field(
        True,
        description=(
            "on steps that are not sampled, still test model outputs / scores / relevance, "
            "accumulating a flag on the device (no host sync); the flag is read on the next "
            "sampled step, which then reports how many steps were affected"
        ),
    )
    stats_rows: int | None = Field(
        2048,
        ge=1,
        description=(
            "query rows per site above which entropy, top-k and logit statistics are taken"
            " on an even stride of queries (None: always every row)"
        ),
    )
    stats_topk_rows: int | None = Field(
        128,
        ge=1,
        description=(
            "query rows per site above which the top-5/10/50 masses are taken on an even"
            " stride of rows (a selection per row costs far more than a reduction; with"
            " stats_rows None every row counts)"
        ),
    )
    stats_max_batch: int | None = Field(
        None,
        ge=1,
        description="compute attention statistics on the first N batch items only (cost cap)",
    )

    # -- attention_entropy ----------------------------------------------------------------
    entropy_low: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        description="normalised row entropy H/log(n_valid) below this = one-hot collapse",
    )
    entropy_high: float = Field(
        0.995,
        ge=0.0,
        le=1.0,
        description="normalised row entropy above this = uniform (no selectivity)",
    )
    entropy_warmup_steps: int = Field(
        500,
        ge=0,
        description="uniform attention is not reported before this step (fresh models are uniform)",
    )
    entropy_high_patience: int = Field(
        20,
        ge=1,
        description="uniform attention must persist this many consecutive sampled steps",
    )

    max_row_weight_high: float = Field(
        0.95, gt=0.0, le=1.0, description="mean max row weight above this = one-hot collapse"
    )
    entropy_drop: float = Field(
        0.15,
        gt=0.0,
        le=1.0,
        description=(
            "normalised entropy below this share of the site's baseline, with mean max row "
            "weight above entropy_drop_max_row_weight, = collapse relative to the baseline"
        ),
    )
    entropy_drop_max_row_weight: float = Field(0.8, gt=0.0, le=1.0)
    baseline_steps: int = Field(
        5,
        ge=1,
        description="a site's baseline is the median of its first N sampled values",
    )

    # -- uniform_attention ----------------------------------------------------------------
    uniform_tolerance: float = Field(
        1e-4,
        ge=0.0,
        description=(
            "uniform_gap (max_row_weight * n_valid - 1, largest over rows) at or below this ="
            " exactly uniform attention, reported from the first sampled step"
        ),
    )
    uniform_baseline_margin: float = Field(
        0.002,
        ge=0.0,
        description=(
            "near-uniform attention (entropy above entropy_high after warm-up) is reported "
            "only while normalised entropy stays within this of the site's baseline"
        ),
    )

    # -- attention_sink -------------------------------------------------------------------
    sink_mass_min: float = Field(
        0.5,
        gt=0.0,
        le=1.0,
        description="sink_mass above this (rows that can see the key give it most mass) = sink",
    )
    sink_lift_min: float = Field(
        3.0, ge=1.0, description="and sink_lift above this (a key no uniform row would favour)"
    )
    sink_growth: float = Field(
        0.1, ge=0.0, description="a sink is reported again when sink_mass grows by this"
    )

    # -- residual_update ------------------------------------------------------------------
    residual_min: float = Field(
        1e-4, ge=0.0, description="residual_ratio below this = the block has no effect"
    )
    residual_patience: int = Field(
        3, ge=1, description="vanishing updates must persist this many sampled steps"
    )
    residual_max: float = Field(
        10.0, gt=0.0, description="residual_ratio above this and residual_growth x baseline"
    )
    residual_growth: float = Field(10.0, ge=1.0)
    residual_hard_max: float = Field(
        1e3, gt=0.0, description="residual_ratio above this fires whatever the baseline"
    )

    # -- logit_growth ---------------------------------------------------------------------
    logit_max_warn: float = Field(
        100.0,
        gt=0.0,
        description="largest |scaled QK logit| above this and logit_growth x baseline: warning",
    )
    logit_growth: float = Field(10.0, ge=1.0)
    logit_max_error: float = Field(
        1e4,
        gt=0.0,
        description="largest |scaled QK logit| above this: error (Wortsman et al. 2023)",
    )

    # -- score_scale / constant_scores ----------------------------------------------------
    score_abs_max: float = Field(
        1e6, gt=0.0, description="largest |valid score| above this = exploding scores (error)"
    )
    score_growth: float = Field(
        100.0, ge=1.0, description="largest |score| above this x baseline (and 100): warning"
    )
    constant_scores_tolerance: float = Field(
        1e-6,
        ge=0.0,
        description="every list's score spread at or below this x max|score| = constant",
    )
    constant_scores_patience: int = Field(
        2, ge=1, description="sampled steps in a row (a zero-initialised head is constant once)"
    )

    # -- grad_norm / grad_spike -----------------------------------------------------------
    grad_zero: float = Field(
        0.0, ge=0.0, description="a gradient norm at or below this counts as zero"
    )
    grad_spike_factor: float = Field(
        10.0, gt=1.0, description="total norm above this x the running median = spike"
    )
    grad_window: int = Field(20, ge=2, description="sampled steps in the running window")
    grad_window_min: int = Field(5, ge=1, description="samples needed before spikes count")

    # -- attention_mass -------------------------------------------------------------------
    mass_min: float = Field(
        0.9, ge=0.0, le=1.0, description="mean attention mass on valid keys below this fires"
    )
    masked_logit_threshold: float = Field(
        -1e4,
        description=(
            "a pre-softmax logit or additive float mask at or below this counts as masked "
            "(covers -inf, -1e9, finfo.min and the fp16 idiom -1e4)"
        ),
    )

    # -- relevance ------------------------------------------------------------------------
    relevance_max_degenerate_share: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="largest tolerated share of lists with < 2 valid items or constant relevance",
    )

    # -- encoder_variance -----------------------------------------------------------------
    variance_min: float = Field(
        1e-8,
        ge=0.0,
        description=(
            "relative variance var/(mean square) of site inputs across positions, and of "
            "pooled outputs across the batch, at or below this = constant"
        ),
    )

    # -- statistics -----------------------------------------------------------------------
    logit_saturation_threshold: float = Field(
        10.0,
        gt=0.0,
        description="logit_saturation = share of valid (scaled) QK logits with |logit| above this",
    )

    # -- plateau / chain diagnosis (attnlint.guard.plateau, attnlint.guard.diagnosis) -----
    plateau_patience: int = Field(
        50, ge=0, description="steps without improvement that count as a plateau (0 disables)"
    )
    plateau_min_delta: float = Field(
        1e-4, ge=0.0, description="smallest loss decrease that counts as an improvement"
    )

    @classmethod
    def from_pyproject(cls, path: str | Path = "pyproject.toml", **overrides: Any) -> GuardConfig:
        """Read ``[tool.attnlint.guard]`` from a pyproject.toml; keyword overrides win."""
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        section = data.get("tool", {}).get("attnlint", {}).get("guard", {})
        return cls(**{**section, **overrides})
