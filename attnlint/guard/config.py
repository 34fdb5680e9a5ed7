"""GuardConfig: thresholds and sampling of the guard. Torch-free (the CLI reads it).

Every threshold is documented in docs/guard.md; the defaults are chosen so that no healthy,
freshly initialised model fires (attention is near uniform at initialisation).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class GuardConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    # -- sampling -------------------------------------------------------------------------
    every: int = Field(1, ge=1, description="full statistics on one step in N")
    on_violation: Literal["raise", "warn", "log"] = "raise"
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
