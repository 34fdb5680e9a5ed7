"""PyTorch Lightning integration: ``AttentionGuardCallback``.

Moments (no change to the user's LightningModule):
- ``on_fit_start``: the guard is built around the LightningModule (or its attribute
  ``module``); it installs its hooks, so every forward the module runs is observed.
- ``on_before_optimizer_step``: ``guard.record_grad_norms()``. Lightning calls this hook
  after AMP unscaling and before its own gradient clipping, so the norms are the real
  pre-clip ones.
- ``on_train_batch_end``: ``guard.step(loss=...)``. When the step outputs also carry
  ``"scores"`` (and ``"relevance"``/``"rel"`` with an optional ``"mask"``), they go to
  ``check_scores`` / ``check_relevance`` first.
- on a violation with ``on_violation="raise"``: ``trainer.should_stop = True``; the
  GuardError is raised from ``on_train_end``, after Lightning has left its loop. The
  report is reduced across ranks inside ``guard.step``, so every rank sees the violation
  on the same step, stops on the same step and raises: no rank waits for another.
- ``on_fit_end`` / ``teardown`` / ``on_exception``: ``guard.close()``.

Each sampled step's statistics also go to the trainer's own loggers (``trainer.loggers``:
TensorBoardLogger, WandbLogger, CSVLogger, ...) as ``attnlint/<site>/<stat>`` through
``logger.log_metrics(..., step=trainer.global_step)``, unless ``log_to_trainer=False``.
Written directly, not through ``self.log``: the guard's own sampling (``every``) decides
how often, not ``log_every_n_steps``, and the report already holds Python floats (no
device sync). The guard writes on rank 0 only, and its outputs are written before a
violation is raised, so the step that stops training is in the logs too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from attnlint.guard.config import GuardConfig
from attnlint.integrations._common import TrainerOutput, loss_of, require

_pl = require("lightning.pytorch", "lightning", "attnlint.integrations.lightning")


class AttentionGuardCallback(_pl.Callback):  # type: ignore[misc,name-defined]
    def __init__(
        self,
        config: GuardConfig | None = None,
        log_path: str | Path | None = None,
        module: str | None = None,
        loss_fn: Any = None,
        *,
        outputs: Sequence[Any] = (),
        log_to_trainer: bool = True,
    ) -> None:
        super().__init__()
        self.config = config or GuardConfig()
        self.log_path = log_path
        self.module = module
        self.loss_fn = loss_fn
        self.outputs = list(outputs)
        self.log_to_trainer = log_to_trainer
        self.guard: Any = None
        self.error: BaseException | None = None
        self.reports: list[Any] = []  # the latest StepReport is reports[-1]; kept short

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        from attnlint.guard import AttentionGuard

        target = pl_module if self.module is None else getattr(pl_module, self.module)
        self.error = None
        outputs = list(self.outputs)
        if self.log_to_trainer:
            outputs.append(TrainerOutput(lambda metrics: _log_metrics(trainer, metrics)))
        self.guard = AttentionGuard(
            target,
            config=self.config,
            log_path=self.log_path,
            loss_fn=self.loss_fn,
            outputs=outputs,
        )
        # observe training batches only: the sanity check and validation run outside them
        self.guard.pause()

    def on_train_batch_start(
        self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int
    ) -> None:
        if self.guard is not None:
            self.guard.resume()

    def on_before_optimizer_step(self, trainer: Any, pl_module: Any, optimizer: Any) -> None:
        if self.guard is not None:
            self.guard.record_grad_norms()

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self.guard is None or self.error is not None:
            return
        from attnlint.guard import GuardError

        self.guard.pause()
        try:
            if hasattr(outputs, "get"):
                scores = outputs.get("scores")
                rel = outputs.get("relevance", outputs.get("rel"))
                if scores is not None:
                    self.guard.check_scores(scores)
                if rel is not None:
                    self.guard.check_relevance(rel, mask=outputs.get("mask"))
            report = self.guard.step(loss=loss_of(outputs))
        except GuardError as exc:
            self.error = exc
            trainer.should_stop = True
            return
        if report is not None:
            self.reports = [*self.reports[-1:], report]

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        self._close()
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        self._close()

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        self._close()

    def teardown(self, trainer: Any, pl_module: Any, stage: str) -> None:
        self._close()

    def _close(self) -> None:
        if self.guard is not None:
            guard, self.guard = self.guard, None
            guard.close()


def _log_metrics(trainer: Any, metrics: dict[str, float]) -> None:
    for logger in trainer.loggers:
        logger.log_metrics(metrics, step=trainer.global_step)
