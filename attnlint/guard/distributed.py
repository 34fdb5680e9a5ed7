"""Merge a StepReport across the ranks of a torch.distributed job.

Every rank calls ``reduce_report`` on each sampled step and gets back the same merged
report, so every rank sees every rank's violations and raises (or stops) on the same
step: a violation found on one rank can never leave the others waiting in a collective.

Cost per call: on a step no rank sampled and no rank found anything, one ``all_reduce``
of four numbers; otherwise that, one ``all_gather_object`` (the report's layout, its
strings and the violations, a few KB) and two ``all_reduce`` calls on packed float64
tensors (one SUM, one MAX), whatever the number of sites.

How each statistic is merged (the table below, field by field):
- ``mean``: averages over rows/positions (entropies, top-k mass, mass, logit moments,
  residual ratio, input variance) and the loss. The batch statistics that are averages
  over lists are weighted by each rank's ``list_count``: the result describes the global
  batch as if it had been one.
- ``max`` / ``min``: extremes stay extremes (max_row_weight, max_col_sum, score_max; the
  *_min fields take the min). A NaN on any rank makes the merged extreme NaN.
- ``sum``: counts over the global batch (list_count, nan_rows, score_nonfinite).
- gradient norms: ``max``. Under DDP gradients are all-reduced before the optimizer
  step, so every rank holds the same norms and max returns rank 0's value; without DDP
  (e.g. each rank training its own replica) max is the conservative choice.
Unknown numeric fields (extensions of the records) are averaged.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
import torch.distributed as dist

from attnlint.records import StepReport, Violation

Op = Literal["mean", "wmean", "sum", "max", "min"]

ATTENTION_OPS: dict[str, Op] = {
    "entropy": "mean",
    "normalized_entropy": "mean",
    "effective_rank": "mean",
    "top5": "mean",
    "top10": "mean",
    "top50": "mean",
    "col_entropy": "mean",
    "mass": "mean",
    "n_valid": "mean",
    "input_variance": "mean",
    "logit_mean": "mean",
    "logit_std": "mean",
    "logit_saturation": "mean",
    "residual_ratio": "mean",
    "max_row_weight": "max",
    "max_col_sum": "max",
    "nan_rows": "sum",
    "masked_rows": "sum",
    "uniform_gap": "max",
    "sink_mass": "max",
    "sink_lift": "max",
    "logit_max": "max",
}

BATCH_OPS: dict[str, Op] = {
    "list_count": "sum",
    "list_len_min": "min",
    "list_len_max": "max",
    "list_len_mean": "wmean",
    "rel_min": "min",
    "rel_max": "max",
    "rel_mean": "wmean",
    "rel_std": "wmean",
    "degenerate_list_share": "wmean",
    "score_min": "min",
    "score_max": "max",
    "score_mean": "wmean",
    "score_std": "wmean",
    "score_nonfinite": "sum",
    "score_abs_max": "max",
    "score_spread_max": "max",
    "input_min": "min",
    "input_max": "max",
    "input_mean": "wmean",
    "input_dim": "max",
}

TOP_OPS: dict[str, Op] = {"loss": "mean", "output_variance": "mean"}

Slot = tuple[str, str, str]  # (section, key, field): ("layer", site, "entropy"), ...


def is_distributed() -> bool:
    """torch.distributed is available, initialised, and has more than one rank."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def is_writer() -> bool:
    """This process writes logs: rank 0, or the only process."""
    return not is_distributed() or dist.get_rank() == 0


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _op(slot: Slot) -> Op:
    section, _, name = slot
    table = {"layer": ATTENTION_OPS, "batch": BATCH_OPS, "top": TOP_OPS}.get(section)
    if table is None:  # grad norms
        return "max"
    return table.get(name, "mean")


def _split(report: StepReport) -> tuple[dict[str, Any], dict[Slot, float], dict[Slot, bool]]:
    """The report without its numbers (a skeleton), its numbers by slot, and which are ints."""
    data = report.model_dump(mode="python")
    values: dict[Slot, float] = {}
    ints: dict[Slot, bool] = {}

    def take(section: str, key: str, fields: dict[str, Any]) -> None:
        for name, v in list(fields.items()):
            if _number(v):
                slot = (section, key, name)
                values[slot] = float(v)
                ints[slot] = isinstance(v, int)
                fields[name] = None

    for site, stats in data["layers"].items():
        take("layer", site, stats)
    if data.get("batch") is not None:
        take("batch", "", data["batch"])
    take("top", "", {k: data.get(k) for k in TOP_OPS})
    for k in TOP_OPS:
        data[k] = None
    grads = data["grad_norms"]
    for name, v in grads.items():
        if _number(v):
            values[("grad", name, "")] = float(v)
            ints[("grad", name, "")] = False
            grads[name] = None
    data["violations"] = []
    return data, values, ints


def _merge_skeletons(skeletons: list[dict[str, Any]]) -> dict[str, Any]:
    merged = skeletons[0]
    for other in skeletons[1:]:
        for site, stats in other["layers"].items():
            merged["layers"].setdefault(site, stats)
        if merged.get("batch") is None:
            merged["batch"] = other.get("batch")
        for name in other["grad_norms"]:
            merged["grad_norms"].setdefault(name, None)
        merged["sampled"] = merged["sampled"] or other["sampled"]
        merged["step"] = max(merged["step"], other["step"])
    return merged


def _merge_violations(per_rank: list[list[dict[str, Any]]]) -> list[Violation]:
    merged: dict[tuple[Any, ...], tuple[dict[str, Any], list[int]]] = {}
    for rank, violations in enumerate(per_rank):
        for v in violations:
            key = (v["check"], v["site"], v["step"], v["message"])
            if key in merged:
                merged[key][1].append(rank)
            else:
                merged[key] = (v, [rank])
    out = []
    for v, ranks in merged.values():
        label = f"rank {ranks[0]}" if len(ranks) == 1 else "ranks " + ", ".join(map(str, ranks))
        fields = {**v, "message": f"[{label}] {v['message']}", "rank": ranks[0], "ranks": ranks}
        out.append(Violation(**fields))
    return out


def _device(group: Any) -> torch.device:
    if dist.get_backend(group) == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def reduce_report(report: StepReport, group: Any = None) -> StepReport:
    """The same merged report on every rank (see the module docstring for the rules).
    Returns ``report`` unchanged when not running distributed."""
    if not is_distributed():
        return report
    device = _device(group)
    # Fast path for the guard's unsampled steps (most steps): one all_reduce of four
    # numbers. The full merge runs when any rank sampled or found something, so ranks can
    # never take different paths, and the loss is averaged either way (the plateau
    # detector on every rank then sees the same losses).
    loss = report.loss
    flags = torch.tensor(
        [
            float(report.sampled),
            float(bool(report.violations or report.diagnosis)),
            0.0 if loss is None else float(loss),
            float(loss is not None),
        ],
        dtype=torch.float64,
        device=device,
    )
    dist.all_reduce(flags, op=dist.ReduceOp.SUM, group=group)
    any_sampled, any_findings, loss_sum, loss_count = flags.tolist()
    if not any_sampled and not any_findings:
        merged_loss = loss_sum / loss_count if loss_count else None
        return report.model_copy(update={"loss": merged_loss})
    skeleton, values, ints = _split(report)
    weight = 1.0
    if report.batch is not None and report.batch.list_count:
        weight = float(report.batch.list_count)
    local = {
        "skeleton": skeleton,
        "ints": ints,
        "violations": [v.model_dump(mode="python") for v in report.violations],
        "diagnosis": list(report.diagnosis),
    }
    gathered: list[Any] = [None] * dist.get_world_size(group)
    dist.all_gather_object(gathered, local, group=group)

    slots = sorted({s for g in gathered for s in g["ints"]})
    is_int = {s: all(g["ints"].get(s, True) for g in gathered) for s in slots}
    sums: list[float] = []
    maxes: list[float] = []
    for slot in slots:
        op = _op(slot)
        v = values.get(slot)
        present = v is not None
        if op in ("mean", "wmean"):
            w = (weight if op == "wmean" else 1.0) if present else 0.0
            sums += [v * w if present else 0.0, w]
        elif op == "sum":
            sums += [v if present else 0.0, float(present)]
        else:
            nan = present and math.isnan(v)
            sums += [float(nan), float(present)]
            if not present or nan:
                maxes.append(-math.inf)
            else:
                maxes.append(v if op == "max" else -v)
    sum_t = torch.tensor(sums, dtype=torch.float64, device=device)
    max_t = torch.tensor(maxes or [0.0], dtype=torch.float64, device=device)
    dist.all_reduce(sum_t, op=dist.ReduceOp.SUM, group=group)
    dist.all_reduce(max_t, op=dist.ReduceOp.MAX, group=group)
    sum_l, max_l = sum_t.tolist(), max_t.tolist()

    merged = _merge_skeletons([g["skeleton"] for g in gathered])
    si = mi = 0
    for slot in slots:
        op = _op(slot)
        a, b = sum_l[si], sum_l[si + 1]
        si += 2
        value: float | None
        if op in ("mean", "wmean"):
            value = a / b if b > 0 else None
        elif op == "sum":
            value = a if b > 0 else None
        else:
            m = max_l[mi]
            mi += 1
            value = None if b == 0 else math.nan if a > 0 else (m if op == "max" else -m)
        if value is not None and is_int[slot] and math.isfinite(value):
            value = round(value)
        section, key, name = slot
        if section == "layer":
            merged["layers"][key][name] = value
        elif section == "batch":
            merged["batch"][name] = value
        elif section == "top":
            merged[name] = value
        else:
            merged["grad_norms"][key] = value

    merged["violations"] = _merge_violations([g["violations"] for g in gathered])
    merged["diagnosis"] = list(dict.fromkeys(d for g in gathered for d in g["diagnosis"]))
    return StepReport.model_validate(merged)
