"""AttentionGuard: observe a model's attention sites during training, never alter them.

The guard is a facade over its data flow, one module per stage:

* ``sites.discover``: which attention sites the model has and how each is observed;
* ``observers``: one observer per kind of site (``mha``, ``encoder``, ``scopes``,
  ``residual``) and the ``root`` that opens and closes a sampled step's capture;
* ``recompute`` / ``stats``: probabilities from a site's inputs, 0-d statistic tensors;
* ``collector``: the step's tensors, read with one host sync when the step is drained;
* ``checks``: host values -> violations; ``policy``: raise, warn or log them;
* ``outputs``: where finished reports go (the run log, experiment trackers).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from attnlint import __version__
from attnlint.guard import batchstats, checks
from attnlint.guard.collector import Key
from attnlint.guard.config import GuardConfig
from attnlint.guard.gradnorms import GradGroups, GradNorms
from attnlint.guard.observe import Installed
from attnlint.guard.observers import Observers
from attnlint.guard.outputs import Output, Outputs, RunLogOutput
from attnlint.guard.policy import Policy
from attnlint.guard.sites import discover
from attnlint.guard.source import confirm as confirm_sites
from attnlint.guard.source import site_sources
from attnlint.records import SCHEMA_VERSION, AttentionStats, BatchStats, StepReport, Violation

logger = logging.getLogger("attnlint.guard")
_DIST_BUILT = torch.distributed.is_available()  # fixed for the process: the build's


class GuardWarning(UserWarning):
    """Category of the warnings issued with ``on_violation="warn"``."""


class GuardError(RuntimeError):
    """Raised by ``step()`` with ``on_violation="raise"``; ``.violations`` lists them."""

    def __init__(self, violations: Sequence[Violation]) -> None:
        self.violations = list(violations)
        super().__init__("\n".join(v.message for v in self.violations))


class AttentionGuard:
    """Wraps a model in the training loop; see docs/guard.md.

    ``guard(*inputs)`` and ``model(*inputs)`` are both observed (observation is installed at
    construction), so framework integrations need only ``record_grad_norms()`` / ``step()``.
    A model already compiled (``torch.compile(model)``) is observed through the module it
    compiled; ``guard(...)`` still calls the compiled one.
    """

    def __init__(
        self,
        model: nn.Module,
        config: GuardConfig | None = None,
        log_path: str | None = None,
        loss_fn: Callable[..., Any] | None = None,
        *,
        outputs: Sequence[Output] = (),
    ) -> None:
        self.model = model
        self.config = config or GuardConfig()
        self.log_path = log_path
        self.loss_fn = loss_fn
        # torch.compile(model) wraps the module it compiles: observe that one
        target = getattr(model, "_orig_mod", model)
        self._target: nn.Module = target if isinstance(target, nn.Module) else model
        found = discover(self._target)
        self.sites: dict[str, str] = dict(found.sites)
        self.untraceable: dict[str, str] = dict(found.untraceable)
        self._step = 0
        self._forced = False
        self._force_next = False
        self._diagnose_next = False
        self._cheap_since = 0
        self._grad_groups: GradGroups | None = None
        self._grad_norms: Mapping[str, float | None] = {}
        self._input_dim: int | None = None
        self._losses: list[float] = []
        self._uniform_streak: dict[str, Any] = {}  # the checks' state between steps
        self._policy = Policy(self.config, GuardError, GuardWarning)
        self._plateau: Any = None
        items: list[Output] = [] if log_path is None else [RunLogOutput(log_path)]
        self._outputs = Outputs([*items, *outputs])
        self._closed = False
        self._installed = Installed()
        self._observers = Observers(self._target, found, self.config, self.sites)
        self._ctx = self._observers.ctx
        self._observers.install(self._installed)

    # ------------------------------------------------------------------ public API
    @property
    def sampled(self) -> bool:
        """Whether the current step collects full statistics."""
        return self._forced or self._step % self.config.every == 0

    @property
    def step_index(self) -> int:
        return self._step

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.model(*args, **kwargs)

    def pause(self) -> None:
        """Stop observing forwards (their outputs are neither captured nor checked) until
        ``resume()``. The integrations pause outside training steps, so a validation or
        evaluation forward never becomes the statistics of the next sampled step."""
        self._ctx.paused = True

    def resume(self) -> None:
        self._ctx.paused = False

    @property
    def is_paused(self) -> bool:
        return self._ctx.paused

    def set_input_dim(self, n: int) -> None:
        self._input_dim = int(n)

    def check_scores(self, scores: Tensor, mask: Tensor | None = None) -> None:
        """finite_scores on ``scores`` (``mask``: True = a real item; padding is ignored)."""
        ctx = self._ctx
        if not ctx.sample_now:
            if self.config.cheap_checks and not ctx.cheap.defer("scores", scores, mask):
                with torch.no_grad():
                    ctx.cheap.add("scores", batchstats.scores_bad(scores.detach(), mask))
            return
        ctx.defer("scores", self._finished, "scores", scores.detach(), mask)

    def check_relevance(self, rel: Tensor, mask: Tensor | None = None) -> None:
        """relevance: each list (row of ``rel``) has >= 2 valid items whose relevance is
        not constant. ``mask``: True (or > 0) = a real item."""
        ctx = self._ctx
        if not ctx.sample_now:
            if self.config.cheap_checks and not ctx.cheap.defer("relevance", rel, mask):
                with torch.no_grad():
                    ctx.cheap.add("relevance", batchstats.relevance_bad(rel, mask))
            return
        ctx.defer("relevance", self._stats, batchstats.relevance_stats, rel.detach(), mask)

    def _stats(self, fn: Callable[[Tensor, Tensor | None], dict[str, Tensor]], *args: Any) -> None:
        with self._ctx.quiet:
            self._ctx.collector.scalars.update(fn(*args))

    def _finished(self, kind: str, scores: Tensor, mask: Tensor | None) -> None:
        """The score statistics' reductions, finished on the host after the step's read."""
        with self._ctx.quiet:
            self._ctx.collector.store(kind, *batchstats.score_parts(scores, mask))

    def record_grad_norms(self, norms: Mapping[str, float] | None = None) -> Mapping[str, float]:
        """Gradient norms before clipping: ``{"total": .., "<top-level module>": ..}``.

        Computed on sampled steps only, ``{}`` on the others. The values stay on the
        device until ``step()`` reads them with the step's other statistics (one sync);
        reading one from the returned mapping earlier syncs then. ``norms`` given (e.g.
        gathered by a framework's parameter hooks) are stored instead of reading ``.grad``.
        """
        if norms is not None:
            self._grad_norms = {k: float(v) for k, v in norms.items()}
            return dict(self._grad_norms)
        if not self.sampled:
            return {}
        if self._grad_groups is None:
            self._grad_groups = GradGroups(self._target)
        with torch.no_grad():
            tensors = self._grad_groups.norms()
        self._ctx.collector.grad_norms = tensors
        self._grad_norms = {} if tensors is None else GradNorms(tensors)
        return self._grad_norms

    def step(self, loss: Any = None) -> StepReport:
        """Close the step: run the checks on a sampled step and return its report."""
        sampled = self.sampled
        diagnose = self._diagnose_next
        value = float(loss) if isinstance(loss, int | float) else None
        if sampled:
            report = StepReport(step=self._step, sampled=True, loss=value)
            if isinstance(loss, Tensor) and loss.numel() == 1:
                self._ctx.collector.scalars["loss"] = loss.detach().float().reshape(())
            self._finish_sampled(report)
        else:
            self._ctx.cheap.settle()
            report = StepReport.unsampled(self._step, value)
        report = self._distributed(report)
        self._plateau_update(report, diagnose)
        if sampled:
            self._write(report)
        self._reset_step(sampled)
        if report.violations:
            self._handle(report.violations)
        return report

    def close(self) -> None:
        """Remove every hook and wrapper; the model is exactly as it was."""
        if self._closed:
            return
        self._installed.remove()
        self._closed = True
        self._outputs.close()

    def __enter__(self) -> AttentionGuard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ step internals
    def _finish_sampled(self, report: StepReport) -> None:
        ctx = self._ctx
        ctx.drain()
        cap = ctx.collector
        grads = self._grad_norms
        if isinstance(grads, GradNorms) and grads.loaded is not None:
            cap.grad_norms = None  # already read by the caller: no second read
        values = cap.read(ctx.cheap.counts)  # the step's one host sync

        def val(owner: str, key: str) -> float | None:
            v = values.get((owner, key))
            return None if v is None or math.isnan(v) else v

        layers: dict[str, AttentionStats] = {}
        for rec in cap.records:
            fields = {key: val(rec.site, key) for key in rec.names}
            nan_rows = fields.pop("nan_rows", None)
            layers[rec.site] = AttentionStats(
                observed=self.sites.get(rec.site, "unknown"),
                nan_rows=None if nan_rows is None else int(nan_rows),
                **fields,
            )
        report.layers = layers
        if layers:
            confirm_sites(self.sites, layers)
        report.grad_norms = _grad_values(grads, values)
        report.output_variance = val("", "output_variance")
        loss = val("", "loss")
        if loss is not None:
            report.loss = loss
        report.batch = _batch(values, val, self._input_dim or cap.input_dim)
        report.batch.input_dim_seen = cap.input_dim
        order = [
            (
                rec.site,
                values.get((rec.site, "bad_in"), 0.0) > 0,
                values.get((rec.site, "bad_out"), 0.0) > 0,
            )
            for rec in cap.records
        ]
        cheap = {k[6:]: v for (o, k), v in values.items() if o == "" and k.startswith("cheap_")}
        report.violations = checks.evaluate(
            step=self._step,
            config=self.config,
            layers=layers,
            order=order,
            input_bad=values.get(("", "input_bad"), 0.0) > 0,
            output_bad=values.get(("", "output_bad"), 0.0) > 0,
            score_nonfinite=val("", "score_nonfinite"),
            degenerate_share=val("", "degenerate_list_share"),
            cheap=cheap,
            cheap_since=self._cheap_since,
            uniform_streak=self._uniform_streak,
            batch=report.batch,
            grad_norms=report.grad_norms,
        )

    def _reset_step(self, was_sampled: bool) -> None:
        if was_sampled:
            self._ctx.cheap.reset()
            self._cheap_since = self._step + 1
        self._forced = self._force_next
        self._force_next = False
        self._step += 1
        if self._grad_norms:
            self._grad_norms = {}
        # between two unsampled steps nothing was collected: the step's state stays as is
        sample = self.sampled
        if was_sampled or sample:
            self._observers.new_step(sample=sample)

    def _distributed(self, report: StepReport) -> StepReport:
        dist = torch.distributed
        if not (_DIST_BUILT and dist.is_initialized() and dist.get_world_size() > 1):
            return report
        from attnlint.guard.distributed import reduce_report

        return reduce_report(report)

    def _is_writer(self) -> bool:
        dist = torch.distributed
        if not (_DIST_BUILT and dist.is_initialized() and dist.get_world_size() > 1):
            return True
        from attnlint.guard.distributed import is_writer

        return bool(is_writer())

    def _plateau_update(self, report: StepReport, diagnose: bool) -> None:
        cfg = self.config
        if report.loss is not None:
            self._losses.append(report.loss)
            del self._losses[: -max(4 * cfg.plateau_patience, 200)]
        if diagnose and report.sampled:
            try:
                from attnlint.guard.diagnosis import diagnose_chain

                report.diagnosis = list(diagnose_chain(report, list(self._losses), self.loss_fn))
            except ImportError:
                pass
        self._diagnose_next = False
        if cfg.plateau_patience <= 0 or report.loss is None:
            return
        if self._plateau is None:
            try:
                from attnlint.guard.plateau import PlateauDetector
            except ImportError:
                return
            self._plateau = PlateauDetector(cfg.plateau_patience, cfg.plateau_min_delta)
        if self._plateau.update(report.loss):
            self._force_next = True
            self._diagnose_next = True

    def _write(self, report: StepReport) -> None:
        if self._outputs and self._is_writer():
            self._outputs.write(report, self._header)

    def _header(self) -> dict[str, Any]:
        return {
            "attnlint_version": __version__,
            "schema_version": SCHEMA_VERSION,
            "model": type(self._target).__name__,
            "sites": dict(self.sites),
            "untraceable": dict(self.untraceable),
            "config": self.config.model_dump(),
            "input_dim": self._input_dim or self._ctx.collector.input_dim,
            **site_sources(self._target, self.sites),
        }

    def _handle(self, violations: list[Violation]) -> None:
        self._policy.handle(violations)


def _grad_values(
    grads: Mapping[str, float | None], values: Mapping[Key, float]
) -> dict[str, float | None]:
    if isinstance(grads, GradNorms):
        loaded = grads.loaded
        if loaded is not None:
            return dict(loaded)
        return {name: values[("grad", name)] for name in grads}
    return dict(grads)


def _batch(
    values: Mapping[Key, float], val: Callable[[str, str], float | None], input_dim: int | None
) -> BatchStats:
    keys = set(BatchStats.model_fields)
    batch: dict[str, Any] = {k: val("", k) for (o, k) in values if o == "" and k in keys}
    if batch.get("list_count") is not None:
        batch["list_count"] = int(batch["list_count"])
    if batch.get("score_nonfinite") is not None:
        batch["score_nonfinite"] = int(batch["score_nonfinite"])
    return BatchStats(input_dim=input_dim, **batch)
