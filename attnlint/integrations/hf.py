"""Hugging Face Trainer integration: ``AttentionGuardTrainerCallback``.

HF runs its callbacks only after gradient clipping (``on_pre_optimizer_step`` comes after
``clip_grad_norm_``), so ``.grad`` there is already clipped. Pre-clip norms are gathered
with ``register_post_accumulate_grad_hook`` on every parameter: each hook stores the squared
norm of its parameter's accumulated gradient as a device tensor (overwriting the previous
micro-batch's value, so gradient accumulation is counted once), and at
``on_pre_optimizer_step`` they are summed per top-level module with one host sync and handed
to ``guard.record_grad_norms(norms)``. Under fp16 with a GradScaler the hooks see scaled
gradients; the scale is divided out.

The loss is read from the model's own output (``outputs.loss``) by a forward hook on the
root module (training forwards only, averaged over micro-batches): HF does not hand it to
callbacks. ``on_step_end`` closes the guard's step. On a violation with
``on_violation="raise"``: ``control.should_training_stop = True`` and the GuardError is
raised from ``on_train_end``, after the Trainer has left its loop; the report is reduced
across ranks inside ``guard.step``, so all ranks stop and raise together.

Each sampled step's statistics (``attnlint/<site>/<stat>``) also reach the Trainer's own
reporting integrations (``report_to``: TensorBoard, Weights & Biases, MLflow, ...) unless
``log_to_trainer=False``: they are handed to the ``on_log`` of every callback of the
Trainer, as ``Trainer.log`` would, except the progress bar and printer (a few dozen numbers
per sampled step on the console would bury the training log) and this callback. Not
through ``Trainer.log`` itself: callbacks are not given the Trainer, and its
``log_history`` (saved in every checkpoint) would grow by a row per sampled step.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from attnlint.guard.config import GuardConfig
from attnlint.integrations._common import TrainerOutput, loss_of, require

_transformers = require("transformers", "transformers", "attnlint.integrations.hf")

ROOT_GROUP = "root"  # parameters directly on the model (the guard uses the same name)


class PreClipGradNorms:
    """Per-top-level-module gradient norms captured as gradients are accumulated."""

    def __init__(self, model: Any) -> None:
        self.groups: dict[str, list[int]] = {}
        self.squares: dict[int, Any] = {}
        self.handles: list[Any] = []
        for name, param in model.named_parameters():
            if not param.requires_grad:
                continue
            group = name.split(".", 1)[0] if "." in name else ROOT_GROUP
            index = len(self.handles)
            self.groups.setdefault(group, []).append(index)
            self.handles.append(param.register_post_accumulate_grad_hook(self._hook(index)))

    def _hook(self, index: int) -> Any:
        def hook(param: Any) -> None:
            if param.grad is not None:
                # float32 accumulation: a half-precision square overflows at |g| > 256
                self.squares[index] = param.grad.detach().float().pow(2).sum()

        return hook

    def take(self, scale: float = 1.0) -> dict[str, float] | None:
        """The norms since the last call (one host sync), or None when nothing arrived."""
        if not self.squares:
            return None
        import torch

        names = [g for g, idx in self.groups.items() if any(i in self.squares for i in idx)]
        per_group = [
            torch.stack([self.squares[i] for i in self.groups[g] if i in self.squares]).sum()
            for g in names
        ]
        stacked = torch.stack([t.to(per_group[0].device) for t in per_group])
        values = (torch.cat([stacked, stacked.sum()[None]]).sqrt() / scale).tolist()
        self.squares.clear()
        return {"total": values[-1], **dict(zip(names, values[:-1], strict=True))}

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles.clear()
        self.squares.clear()


class AttentionGuardTrainerCallback(_transformers.TrainerCallback):  # type: ignore[misc,name-defined]
    def __init__(
        self,
        config: GuardConfig | None = None,
        log_path: str | Path | None = None,
        loss_fn: Any = None,
        *,
        outputs: Sequence[Any] = (),
        log_to_trainer: bool = True,
    ) -> None:
        self.config = config or GuardConfig()
        self.log_path = log_path
        self.loss_fn = loss_fn
        self.outputs = list(outputs)
        self.log_to_trainer = log_to_trainer
        self._handler: Any = None
        self._event: tuple[Any, Any, Any, dict[str, Any]] | None = None
        self.guard: Any = None
        self.norms: PreClipGradNorms | None = None
        self.error: BaseException | None = None
        self.reports: list[Any] = []
        self._loss_handle: Any = None
        self._losses: list[Any] = []

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        from attnlint.guard import AttentionGuard

        model = kwargs["model"]
        self.error = None
        outputs = list(self.outputs)
        if self.log_to_trainer:
            self._handler = _calling_handler(self)
            if self._handler is not None:
                outputs.append(TrainerOutput(self._to_trainer))
            else:
                import warnings

                warnings.warn(
                    "attnlint: the Trainer's callbacks were not found, so the guard's "
                    "statistics reach only its run log and outputs (log_to_trainer=False "
                    "silences this)",
                    RuntimeWarning,
                    stacklevel=2,
                )
        self.guard = AttentionGuard(
            model,
            config=self.config,
            log_path=self.log_path,
            loss_fn=self.loss_fn,
            outputs=outputs,
        )
        self.norms = PreClipGradNorms(model)
        self._loss_handle = model.register_forward_hook(self._capture_loss)
        # observe training steps only: evaluation runs between on_step_end and the next
        # on_step_begin
        self.guard.pause()

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.guard is not None:
            self.guard.resume()

    def _capture_loss(self, module: Any, args: Any, output: Any) -> None:
        if module.training:
            loss = loss_of(output)
            if loss is not None and getattr(loss, "ndim", 1) == 0:
                self._losses.append(loss)

    def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._hand_over_norms(kwargs.get("optimizer"))

    def _hand_over_norms(self, optimizer: Any) -> None:
        if self.guard is None or self.norms is None:
            return
        scale = 1.0
        scaler = getattr(optimizer, "scaler", None)
        if scaler is not None and scaler.is_enabled():
            scale = float(scaler.get_scale())
        norms = self.norms.take(scale)
        if norms is not None:
            self.guard.record_grad_norms(norms)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.guard is None or self.error is not None:
            return
        self.guard.pause()
        from attnlint.guard import GuardError

        # transformers releases without on_pre_optimizer_step: the norms are still pending
        self._hand_over_norms(kwargs.get("optimizer"))

        loss = None
        if self._losses:
            import torch

            loss = torch.stack(self._losses).float().mean()
            self._losses.clear()
        self._event = (args, state, control, kwargs)
        try:
            report = self.guard.step(loss=loss)
        except GuardError as exc:
            self.error = exc
            control.should_training_stop = True
            return
        finally:
            self._event = None
        if report is not None:
            self.reports = [*self.reports[-1:], report]

    def _to_trainer(self, metrics: dict[str, float]) -> None:
        if self._handler is None or self._event is None:
            return
        args, state, control, kwargs = self._event
        quiet = (_transformers.trainer_callback.ProgressCallback, _transformers.PrinterCallback)
        for callback in self._handler.callbacks:
            if callback is self or isinstance(callback, quiet):
                continue
            # each gets its own dict: WandbCallback and others rewrite the keys in place
            callback.on_log(args, state, control, logs=dict(metrics), **kwargs)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.close()
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def close(self) -> None:
        """Remove every hook this callback installed and close the guard (idempotent)."""
        if self.norms is not None:
            self.norms.remove()
            self.norms = None
        if self._loss_handle is not None:
            self._loss_handle.remove()
            self._loss_handle = None
        self._losses.clear()
        if self.guard is not None:
            guard, self.guard = self.guard, None
            guard.close()


def _calling_handler(callback: Any) -> Any:
    """The Trainer's ``CallbackHandler`` that is calling ``callback`` right now (found on
    the call stack: callbacks are not handed the Trainer or its handler), or None."""
    handler_type = _transformers.trainer_callback.CallbackHandler
    frame = sys._getframe(1)
    for _ in range(8):
        if frame is None:
            return None
        owner = frame.f_locals.get("self")
        if isinstance(owner, handler_type) and callback in owner.callbacks:
            return owner
        frame = frame.f_back
    return None
