"""AttentionGuardCallback in real Lightning training loops (CPU, a few steps)."""

from __future__ import annotations

import importlib
import math
import re
import sys
from pathlib import Path
from typing import Any

import pytest

pl = pytest.importorskip("lightning.pytorch")  # the dev extra installs it: runs in CI
import torch  # noqa: E402
from conftest import SpyError, install_spy_guard  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

import attnlint.guard  # noqa: E402
from attnlint.guard import GuardConfig  # noqa: E402
from attnlint.integrations.lightning import AttentionGuardCallback  # noqa: E402

CLIP = 1e-3


class SetModel(nn.Module):
    """encoder -> self-attention over the set -> mean pool -> scorer."""

    def __init__(self, dim: int = 4, width: int = 16) -> None:
        super().__init__()
        self.encoder = nn.Linear(dim, width)
        self.attention = nn.MultiheadAttention(width, 2, batch_first=True)
        self.scorer = nn.Linear(width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = torch.relu(self.encoder(x))
        h, _ = self.attention(z, z, z, need_weights=False)
        return self.scorer(h + z).squeeze(-1)


class Ranker(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.model = SetModel()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return ((self(x) - y) ** 2).mean() * 100.0  # large loss: large pre-clip gradients

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=1e-3)


def loader(nan_at: int | None = None, n: int = 32) -> DataLoader:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, 6, 4, generator=gen)
    y = torch.randn(n, 6, generator=gen)
    if nan_at is not None:
        x[nan_at * 4 : (nan_at + 1) * 4] = float("nan")  # batch `nan_at` is poisoned
    return DataLoader(TensorDataset(x, y), batch_size=4)


def trainer(callback: pl.Callback, max_steps: int = 4, **kw: Any) -> pl.Trainer:
    return pl.Trainer(
        max_steps=max_steps,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        gradient_clip_val=CLIP,
        callbacks=[callback],
        **kw,
    )


class SpyGuard:
    """Stands in for AttentionGuard: records the order of calls and the gradients it sees."""

    instances: list[SpyGuard] = []
    fail_at: int | None = None

    def __init__(self, model: nn.Module, config: Any = None, **kw: Any) -> None:
        self.model, self.kw, self.calls, self.steps = model, kw, [], 0
        self.closed = False
        SpyGuard.instances.append(self)

    def record_grad_norms(self, norms: Any = None) -> dict[str, float]:
        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        total = math.sqrt(sum(float(g.pow(2).sum()) for g in grads))
        self.calls.append(("norms", total))
        return {"total": total}

    def step(self, loss: Any = None) -> None:
        self.calls.append(("step", None if loss is None else float(loss)))
        self.steps += 1
        if SpyGuard.fail_at is not None and self.steps == SpyGuard.fail_at:
            raise attnlint.guard.GuardError([])

    def close(self) -> None:
        self.closed = True

    def pause(self) -> None:
        self.calls.append(("pause", None))

    def resume(self) -> None:
        self.calls.append(("resume", None))


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> type[SpyGuard]:
    return install_spy_guard(monkeypatch, SpyGuard)


def test_missing_lightning_is_a_one_line_import_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "lightning.pytorch", None)
    monkeypatch.delitem(sys.modules, "attnlint.integrations.lightning", raising=False)
    with pytest.raises(ImportError, match=r"pip install lightning") as info:
        importlib.import_module("attnlint.integrations.lightning")
    assert "\n" not in str(info.value)


def test_moments_norms_before_clipping_then_step(spy: type[SpyGuard]) -> None:
    callback = AttentionGuardCallback(config=GuardConfig(), module="model")
    module = Ranker()
    trainer(callback).fit(module, loader())
    (guard,) = spy.instances
    assert guard.model is module.model  # the `module` attribute, not the LightningModule
    kinds = [c[0] for c in guard.calls]
    # observing only inside training batches: the sanity check and validation are paused
    assert kinds == ["pause", *["resume", "norms", "pause", "step"] * 4]
    norms = [c[1] for c in guard.calls if c[0] == "norms"]
    # seen before Lightning clipped: above the clip value (the clipped norm is <= CLIP)
    assert all(n > 10 * CLIP for n in norms), norms
    losses = [c[1] for c in guard.calls if c[0] == "step"]
    assert all(loss is not None and math.isfinite(loss) for loss in losses)
    assert guard.closed


def test_violation_stops_training_and_raises_after_the_loop(spy: type[SpyGuard]) -> None:
    spy.fail_at = 2
    callback = AttentionGuardCallback()
    t = trainer(callback, max_steps=50)
    with pytest.raises(SpyError):
        t.fit(Ranker(), loader())
    assert t.global_step == 2  # stopped right after the step that failed
    assert spy.instances[0].steps == 2 and spy.instances[0].closed


@pytest.fixture
def real_guard() -> None:
    import attnlint.guard.core  # noqa: F401


def test_real_guard_healthy_run_records_pre_clip_norms(real_guard: None, tmp_path: Path) -> None:
    callback = AttentionGuardCallback(
        config=GuardConfig(every=1, on_violation="raise"), log_path=tmp_path / "run.jsonl"
    )
    module = Ranker()
    trainer(callback).fit(module, loader())
    report = callback.reports[-1]
    assert report.violations == []
    assert report.grad_norms["total"] > 10 * CLIP
    assert report.loss is not None and math.isfinite(report.loss)
    assert report.layers, "the attention site was observed"
    assert callback.guard is None  # closed
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in module.modules())
    lines = (tmp_path / "run.jsonl").read_text().splitlines()
    assert len(lines) >= 4


def test_real_guard_nan_batch_stops_training(real_guard: None) -> None:
    from attnlint.guard import GuardError

    callback = AttentionGuardCallback(config=GuardConfig(every=1, on_violation="raise"))
    t = trainer(callback, max_steps=50)
    with pytest.raises(GuardError) as info:
        t.fit(Ranker(), loader(nan_at=2))
    assert t.global_step == 3  # batches 0, 1 fine; batch 2 poisoned: stop after it
    assert any(v.check == "finite_scores" for v in info.value.violations)


class ValidatedRanker(Ranker):
    def validation_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return ((self(x) - y) ** 2).mean()


def test_validation_between_batches_is_not_observed(real_guard: None) -> None:
    # The sanity check and the validation runs (here after every training batch) feed NaN
    # batches; they must not become a training step's violation.
    callback = AttentionGuardCallback(config=GuardConfig(every=1, on_violation="raise"))
    t = trainer(callback, max_steps=4, val_check_interval=1, limit_val_batches=1)
    t.fit(ValidatedRanker(), loader(), loader(nan_at=0))
    assert t.global_step == 4
    assert callback.error is None
    assert callback.reports[-1].violations == []


DDP_SCRIPT = """
import json, sys
from pathlib import Path
sys.path.insert(0, {tests!r})
import lightning.pytorch as pl
import torch  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset
from attnlint.guard import GuardConfig
from attnlint.integrations.lightning import AttentionGuardCallback
from test_integration_lightning import Ranker, StepAtEnd

out = Path({out!r})
x, y = torch.randn(64, 6, 4), torch.randn(64, 6)
x[13] = float("nan")  # an odd index: the DistributedSampler hands it to rank 1 only
config = GuardConfig(every=1, on_violation="raise")
guard = AttentionGuardCallback(config, log_path=out / "run.jsonl")
trainer = pl.Trainer(
    max_steps=6, accelerator="cpu", devices=2, strategy="ddp_spawn", logger=False,
    enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
    callbacks=[StepAtEnd(str(out)), guard],
)
try:
    trainer.fit(Ranker(), DataLoader(TensorDataset(x, y), batch_size=4))
except Exception as exc:
    (out / "error.txt").write_text(str(exc))
"""


class StepAtEnd(pl.Callback):
    """Writes each rank's global_step when training ends (before the guard raises)."""

    def __init__(self, out: str) -> None:
        self.out = out

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        Path(self.out, f"rank{trainer.global_rank}.json").write_text(str(trainer.global_step))


def test_real_guard_ddp_violation_on_one_rank_stops_both(real_guard: None, tmp_path: Path) -> None:
    import subprocess

    script = DDP_SCRIPT.format(tests=str(Path(__file__).parent), out=str(tmp_path))
    # a subprocess with a timeout: a hang fails the test instead of blocking the suite
    subprocess.run([sys.executable, "-c", script], timeout=180, check=True, capture_output=True)
    steps = [(tmp_path / f"rank{r}.json").read_text() for r in range(2)]
    assert steps[0] == steps[1] and int(steps[0]) < 6  # both stopped after the same step
    error = (tmp_path / "error.txt").read_text()
    assert "GuardError" in error
    # the poisoned step (0-based in the guard) was the last one trained
    assert re.search(rf"\[rank 1\] .*finite_scores.*step {int(steps[0]) - 1}\b", error)
    assert (tmp_path / "run.jsonl").exists()


def test_statistics_reach_the_trainers_own_logger(real_guard: None, tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from lightning.pytorch.loggers import TensorBoardLogger
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    callback = AttentionGuardCallback(
        config=GuardConfig(every=2, on_violation="raise"), log_path=tmp_path / "run.jsonl"
    )
    logger = TensorBoardLogger(str(tmp_path), name="tb", version=0)
    pl.Trainer(
        max_steps=4,
        accelerator="cpu",
        devices=1,
        logger=logger,
        log_every_n_steps=50,  # Lightning's own cadence does not thin the guard's steps
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        gradient_clip_val=CLIP,
        callbacks=[callback],
    ).fit(Ranker(), loader())
    from attnlint.report.runlog import read_run_log

    log = read_run_log(tmp_path / "run.jsonl")
    assert [s.step for s in log.steps] == [0, 2]
    events = EventAccumulator(str(tmp_path / "tb" / "version_0"))
    events.Reload()
    site = next(iter(log.steps[0].layers))
    for stat in ("normalized_entropy", "max_row_weight", "input_variance"):
        got = [e.value for e in events.Scalars(f"attnlint/{site}/{stat}")]
        want = [getattr(s.layers[site], stat) for s in log.steps]
        assert got == pytest.approx(want, rel=1e-6), stat
    steps = [e.step for e in events.Scalars("attnlint/grad_norm/total")]
    assert steps == [1, 3]  # the trainer's global step, after each optimizer step
    total = [e.value for e in events.Scalars("attnlint/violations/total")]
    assert total == [0.0, 0.0]


@pytest.mark.parametrize("log_to_trainer", [True, False])
def test_log_to_trainer_switch(real_guard: None, tmp_path: Path, log_to_trainer: bool) -> None:
    from lightning.pytorch.loggers import CSVLogger

    callback = AttentionGuardCallback(config=GuardConfig(every=1), log_to_trainer=log_to_trainer)
    logger = CSVLogger(str(tmp_path), name="csv", version=0)
    pl.Trainer(
        max_steps=2,
        accelerator="cpu",
        devices=1,
        logger=logger,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[callback],
    ).fit(Ranker(), loader())
    metrics = tmp_path / "csv" / "version_0" / "metrics.csv"
    text = metrics.read_text() if metrics.exists() else ""
    assert ("attnlint/model.attention/normalized_entropy" in text) is log_to_trainer


def test_statistics_reach_a_wandb_logger_offline(
    real_guard: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("wandb")
    from _wandb import wandb_records
    from lightning.pytorch.loggers import WandbLogger

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    callback = AttentionGuardCallback(config=GuardConfig(every=2), log_path=tmp_path / "run.jsonl")
    logger = WandbLogger(project="attnlint-test", save_dir=str(tmp_path), offline=True)
    pl.Trainer(
        max_steps=4,
        accelerator="cpu",
        devices=1,
        logger=logger,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[callback],
    ).fit(Ranker(), loader())
    run_dir = Path(logger.experiment.dir).parent
    logger.experiment.finish()
    from attnlint.report.runlog import read_run_log

    log = read_run_log(tmp_path / "run.jsonl")
    tag = "attnlint/model.attention/normalized_entropy"
    rows = [row for row in wandb_records(run_dir)["history"] if tag in row]
    want = [s.layers["model.attention"].normalized_entropy for s in log.steps]
    assert [row[tag] for row in rows] == pytest.approx(want, rel=1e-6)
    assert [row["trainer/global_step"] for row in rows] == [1, 3]
