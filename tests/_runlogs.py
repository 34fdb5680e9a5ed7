"""Hand-built run logs for the report and plot tests (no torch, no guard)."""

from __future__ import annotations

import math
from pathlib import Path

from attnlint.records import AttentionStats, BatchStats, StepReport, Violation
from attnlint.report.runlog import RunLogWriter

SITES = ("layers.0.self_attn", "layers.1.self_attn", "layers.2.self_attn")
COLLAPSED = "layers.1.self_attn"


def _stats(norm_entropy: float, max_row: float, residual: float) -> AttentionStats:
    entropy = norm_entropy * math.log(12)
    return AttentionStats(
        observed="recomputed",
        entropy=entropy,
        normalized_entropy=norm_entropy,
        effective_rank=math.exp(entropy),
        top5=0.7,
        top10=0.9,
        top50=1.0,
        max_row_weight=max_row,
        col_entropy=2.0,
        max_col_sum=1.5,
        mass=1.0,
        residual_ratio=residual,
    )


def write_collapse_log(path: Path, steps: int = 12, collapse_at: int = 6) -> Path:
    """Three sites; the middle one goes one-hot at ``collapse_at`` and is reported."""
    with RunLogWriter(path, header={"run": "collapse-run", "model": "Toy"}) as w:
        for step in range(steps):
            bad = step >= collapse_at
            layers = {
                site: _stats(
                    0.0123 if bad and site == COLLAPSED else 0.7, 0.999 if bad else 0.3, 0.4
                )
                for site in SITES
            }
            violations = (
                [
                    Violation(
                        check="attention_entropy",
                        site=COLLAPSED,
                        step=step,
                        value=0.0123,
                        bound=0.1,
                        message="normalised entropy below bound: one-hot collapse",
                    )
                ]
                if bad
                else []
            )
            w.write(
                StepReport(
                    step=step,
                    loss=27.8993 if bad else 30.0 - step,
                    layers=layers,
                    violations=violations,
                    grad_norms={"total": 4.25, "encoder": 0.000123},
                    batch=BatchStats(list_count=16, list_len_min=4, rel_std=0.75, input_dim=21),
                    diagnosis=["attention collapsed at layers.1.self_attn"]
                    if step == steps - 1
                    else [],
                )
            )
    return path


def write_single_site_log(path: Path, steps: int = 10) -> Path:
    with RunLogWriter(path, header={"run": "single"}) as w:
        for step in range(steps):
            w.write(
                StepReport(step=step, loss=1.0, layers={"attention.attn": _stats(0.8, 0.3, 0.5)})
            )
    return path
