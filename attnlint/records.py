"""Versioned records the guard produces and the report side reads. Torch-free.

The guard (``attnlint.guard``) fills these; the run log (``attnlint.report``) writes them
as JSON Lines and ``attnlint report`` / ``attnlint plot`` read them back without torch.
Extend freely (new optional fields); never rename a field: run logs outlive versions.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1

Check = Literal[
    "finite_scores",
    "relevance",
    "encoder_variance",
    "attention_entropy",
    "attention_mass",
    "uniform_attention",
    "attention_sink",
    "residual_update",
    "logit_growth",
    "score_scale",
    "constant_scores",
    "grad_norm",
    "grad_spike",
    "input_dim",
]
# error: the run is broken (stops it under the default on_violation="raise"); warning: a
# likely problem or a precursor (warned once per check and site); info: a statistic worth
# knowing (logged). Default severities per check: docs/guard.md.
Severity = Literal["error", "warning", "info"]


class _Record(BaseModel):
    # NaN/inf are legitimate observations here (that is what finite_scores reports), so
    # they are written as JSON null rather than refused.
    model_config = ConfigDict(extra="allow", ser_json_inf_nan="null")


class Violation(_Record):
    check: Check
    site: str
    step: int
    value: float | None
    bound: float | None
    message: str
    severity: Severity = "error"  # run logs written before severities existed: errors
    hint: str | None = Field(None, description="what to read or run next")


class AttentionStats(_Record):
    """Seed-003 statistics of one attention site, averaged over rows (queries), heads and
    the batch, counting valid keys only. ``None`` where the site did not provide it."""

    observed: str = Field(description="how the probabilities were obtained")
    entropy: float | None = None
    normalized_entropy: float | None = None
    effective_rank: float | None = None
    top5: float | None = None
    top10: float | None = None
    top50: float | None = None
    max_row_weight: float | None = None
    col_entropy: float | None = None
    max_col_sum: float | None = None
    mass: float | None = Field(None, description="mean attention mass on valid keys")
    nan_rows: int | None = Field(None, description="rows with a NaN (e.g. fully masked)")
    n_valid: float | None = Field(None, description="mean number of valid keys per row")
    input_variance: float | None = Field(None, description="site input variance over positions")
    logit_mean: float | None = None
    logit_std: float | None = None
    logit_saturation: float | None = None
    residual_ratio: float | None = None
    mass_min: float | None = Field(None, description="smallest row mass on valid keys")
    pooled_variance: float | None = Field(
        None, description="relative variance over the batch of a pooling site's output (Lq=1)"
    )
    masked_rows: int | None = Field(
        None, description="rows with no valid key whose output stayed finite (a finite fill)"
    )
    uniform_gap: float | None = Field(
        None, description="largest max_row_weight * n_valid - 1 over rows: 0 = exactly uniform"
    )
    sink_mass: float | None = Field(
        None,
        description="largest mean weight a key gets from the rows that may attend to it "
        "(column mass / receivable mass, per head, averaged over the batch)",
    )
    sink_lift: float | None = Field(
        None, description="sink_mass / what uniform attention would give that key"
    )
    sink_key: int | None = Field(None, description="key position of sink_mass")
    sink_head: int | None = Field(None, description="head of sink_mass")
    logit_max: float | None = Field(None, description="largest |scaled QK logit| on valid keys")


class BatchStats(_Record):
    """Per-batch statistics the seed investigation logged by hand."""

    list_count: int | None = None
    list_len_min: float | None = None
    list_len_max: float | None = None
    list_len_mean: float | None = None
    rel_min: float | None = None
    rel_max: float | None = None
    rel_mean: float | None = None
    rel_std: float | None = None
    degenerate_list_share: float | None = None
    score_min: float | None = None
    score_max: float | None = None
    score_mean: float | None = None
    score_std: float | None = None
    score_nonfinite: int | None = None
    score_abs_max: float | None = Field(None, description="largest |valid score|")
    score_spread_max: float | None = Field(
        None, description="largest max - min of the valid scores within one list"
    )
    input_min: float | None = None
    input_max: float | None = None
    input_mean: float | None = None
    input_dim: int | None = None
    input_dim_seen: int | None = Field(
        None, description="shape[-1] of this step's first input (input_dim: the declared one)"
    )


class StepReport(_Record):
    schema_version: int = SCHEMA_VERSION
    step: int
    sampled: bool = True
    loss: float | None = None
    violations: list[Violation] = Field(default_factory=list)
    layers: dict[str, AttentionStats] = Field(default_factory=dict)
    grad_norms: dict[str, float | None] = Field(default_factory=dict)
    batch: BatchStats | None = None
    output_variance: float | None = Field(None, description="pooled output variance over batch")
    diagnosis: list[str] = Field(
        default_factory=list, description="chain diagnosis after a loss plateau, broken link first"
    )

    @classmethod
    def unsampled(cls, step: int, loss: float | None) -> StepReport:
        """The report of an unsampled step, equal to ``StepReport(step=step, sampled=False,
        loss=loss)``, made without validation (``step`` and ``loss`` are the guard's own int
        and float). Most steps are unsampled, and right after the optimizer's step, with
        the caches cold, a validated construction costs about a per cent of a small
        model's training step."""
        report = object.__new__(cls)
        fields = _UNSAMPLED.copy()
        fields.update(step=step, loss=loss, violations=[], layers={}, grad_norms={}, diagnosis=[])
        setattr_ = object.__setattr__
        setattr_(report, "__dict__", fields)
        setattr_(report, "__pydantic_extra__", {})
        setattr_(report, "__pydantic_fields_set__", {"step", "sampled", "loss"})
        setattr_(report, "__pydantic_private__", None)
        return report


# an unsampled step's fields, in their order, but for its step, loss and containers
_UNSAMPLED = dict.fromkeys(StepReport.model_fields) | {
    "schema_version": SCHEMA_VERSION,
    "sampled": False,
}
