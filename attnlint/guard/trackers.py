"""Experiment-tracker outputs: TensorBoard and Weights & Biases.

Each receives the guard's finished ``StepReport`` (see ``attnlint.guard.outputs``) and
writes it as scalars under stable names (documented in docs/integrations.md):

- ``attnlint/<site>/<stat>``: every statistic of an attention site (``normalized_entropy``,
  ``max_row_weight``, ...), the site being its module path (``encoder.layers.0.self_attn``);
- ``attnlint/batch/<stat>``: list, relevance, score and input statistics;
- ``attnlint/grad_norm/<module>``: gradient norms before clipping (``total`` included);
- ``attnlint/loss``, ``attnlint/output_variance``;
- ``attnlint/violations/<check>`` and ``attnlint/violations/total``: violations this step,
  for every check the guard has (0 when it did not fire: the curve shows where a check
  started and stopped firing).

A report holds Python floats only, so writing it never syncs a device. NaN and inf are
written as they are: a NaN in a tracker is the observation, not an error of the output.
Neither tracker library is imported until an output is built.
"""

from __future__ import annotations

import os
import typing
from collections.abc import Iterator
from typing import Any

from attnlint.records import Check, StepReport

PREFIX = "attnlint"
_SKIP = {"observed"}  # AttentionStats' text field


def _known_checks() -> tuple[str, ...]:
    return tuple(arg for arg in typing.get_args(Check) if isinstance(arg, str))


def _numbers(record: Any) -> Iterator[tuple[str, float]]:
    if record is None:
        return
    data = record.model_dump() if hasattr(record, "model_dump") else dict(record)
    for key, value in data.items():
        # bool is an int: a flag is not a statistic anyone plots
        if key in _SKIP or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        yield key, float(value)


class Scalars:
    """Turns reports into ``{name: value}``; remembers which checks it has seen."""

    def __init__(self, prefix: str = PREFIX) -> None:
        self.prefix = prefix.rstrip("/")
        self.seen: dict[str, None] = dict.fromkeys(_known_checks())

    def __call__(self, report: StepReport) -> dict[str, float]:
        p = self.prefix
        out: dict[str, float] = {}
        for site, stats in report.layers.items():
            for stat, value in _numbers(stats):
                out[f"{p}/{site}/{stat}"] = value
        for stat, value in _numbers(report.batch):
            out[f"{p}/batch/{stat}"] = value
        for module, norm in report.grad_norms.items():
            if norm is not None:
                out[f"{p}/grad_norm/{module}"] = float(norm)
        if report.loss is not None:
            out[f"{p}/loss"] = float(report.loss)
        if report.output_variance is not None:
            out[f"{p}/output_variance"] = float(report.output_variance)
        counts: dict[str, int] = {}
        for v in report.violations:
            counts[v.check] = counts.get(v.check, 0) + 1
            self.seen.setdefault(v.check, None)
        for check in self.seen:
            out[f"{p}/violations/{check}"] = float(counts.get(check, 0))
        out[f"{p}/violations/total"] = float(len(report.violations))
        return out


def violation_lines(report: StepReport) -> list[str]:
    return [f"{v.check} at {v.site}: {v.message.strip()}" for v in report.violations]


class TensorBoardOutput:
    """Writes each report to TensorBoard with ``SummaryWriter.add_scalar`` (and the
    violations' messages with ``add_text`` under ``attnlint/violations``).

    ``TensorBoardOutput("runs/exp1")`` owns its writer and closes it with the guard;
    ``TensorBoardOutput(writer=my_writer)`` shares yours: it is flushed, never closed.
    The global step is the guard's step (``report.step``)."""

    def __init__(
        self,
        log_dir: str | os.PathLike[str] | None = None,
        *,
        writer: Any = None,
        prefix: str = PREFIX,
    ) -> None:
        if writer is None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as exc:  # torch is there (this is the guard): tensorboard is not
                raise ImportError(
                    "TensorBoardOutput needs the 'tensorboard' package: pip install tensorboard"
                ) from exc
            writer = SummaryWriter(log_dir=None if log_dir is None else str(log_dir))
            self._owned = True
        else:
            self._owned = False
        self.writer = writer
        self.scalars = Scalars(prefix)

    def write(self, report: StepReport) -> None:
        for name, value in self.scalars(report).items():
            self.writer.add_scalar(name, value, global_step=report.step)
        lines = violation_lines(report)
        if lines:
            self.writer.add_text(
                f"{self.scalars.prefix}/violations", "\n\n".join(lines), global_step=report.step
            )

    def close(self) -> None:
        if self.writer is None:
            return
        if self._owned:
            self.writer.close()
            self.writer = None
        else:
            self.writer.flush()


class WandbOutput:
    """Writes each report to Weights & Biases with ``run.log`` (offline mode works too:
    ``WANDB_MODE=offline``).

    ``WandbOutput()`` logs to the active run (``wandb.run``), or starts one with
    ``wandb.init(**init)`` when there is none and finishes it when the guard closes. The
    guard's step goes to ``attnlint/step``, declared as the step metric of ``attnlint/*``:
    it never moves the run's own step, so your own ``wandb.log`` calls are unaffected."""

    def __init__(
        self, run: Any = None, *, prefix: str = PREFIX, init: dict[str, Any] | None = None
    ) -> None:
        try:
            import wandb
        except ImportError as exc:
            raise ImportError("WandbOutput needs the 'wandb' package: pip install wandb") from exc
        self._owned = False
        if run is None:
            run = wandb.run
        if run is None:
            run = wandb.init(**(init or {}))
            self._owned = True
        self.run: Any = run
        self.scalars = Scalars(prefix)
        step = f"{self.scalars.prefix}/step"
        run.define_metric(step)
        run.define_metric(f"{self.scalars.prefix}/*", step_metric=step)

    def write(self, report: StepReport) -> None:
        if self.run is None:
            return
        data: dict[str, Any] = self.scalars(report)
        data[f"{self.scalars.prefix}/step"] = report.step
        self.run.log(data)

    def close(self) -> None:
        if self.run is not None and self._owned:
            self.run.finish()
        self.run = None


__all__ = ["PREFIX", "Scalars", "TensorBoardOutput", "WandbOutput", "violation_lines"]
