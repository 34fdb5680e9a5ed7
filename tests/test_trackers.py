"""TensorBoard and Weights & Biases outputs, read back with each library's own reader."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch
from _wandb import wandb_records
from guard_models import FAMILIES

from attnlint.guard import AttentionGuard, GuardConfig
from attnlint.guard.trackers import Scalars
from attnlint.records import AttentionStats, StepReport, Violation
from attnlint.report.runlog import read_run_log

SET = FAMILIES[0]


def _train(outputs: list[Any], log: Path, steps: int = 4, every: int = 2) -> AttentionGuard:
    """A few guarded steps; step 2's relevance is constant, so it has a violation."""
    guard = AttentionGuard(
        SET.make(),
        config=GuardConfig(every=every, on_violation="log"),
        log_path=str(log),
        outputs=outputs,
    )
    args, kwargs = SET.batch()
    for step in range(steps):
        scores = guard(*args, **kwargs)
        rel = torch.ones_like(scores) if step == 2 else torch.arange(scores.numel()).float()
        guard.check_relevance(rel.reshape(1, -1))
        scores.float().pow(2).mean().backward()
        guard.record_grad_norms()
        guard.step(loss=float(step))
    guard.close()
    return guard


def test_scalar_names_are_stable() -> None:
    report = StepReport(
        step=3,
        loss=math.nan,
        layers={"enc.attn": AttentionStats(observed="hooks", normalized_entropy=0.5, nan_rows=0)},
        grad_norms={"total": 2.0, "encoder": None},
        violations=[
            Violation(
                check="attention_mass", site="enc.attn", step=3, value=1, bound=0, message="x"
            )
        ],
    )
    names = Scalars()(report)
    assert names["attnlint/enc.attn/normalized_entropy"] == 0.5
    assert names["attnlint/enc.attn/nan_rows"] == 0.0
    assert "attnlint/enc.attn/observed" not in names  # text, not a scalar
    assert names["attnlint/grad_norm/total"] == 2.0
    assert "attnlint/grad_norm/encoder" not in names  # no value: nothing invented
    assert math.isnan(names["attnlint/loss"])  # a NaN loss is the observation
    assert names["attnlint/violations/attention_mass"] == 1.0
    assert names["attnlint/violations/finite_scores"] == 0.0
    assert names["attnlint/violations/total"] == 1.0


def test_tensorboard_event_files_hold_every_statistic(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from attnlint.guard.trackers import TensorBoardOutput

    guard = _train([TensorBoardOutput(tmp_path / "tb")], tmp_path / "run.jsonl")
    (site,) = guard.sites
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    log = read_run_log(tmp_path / "run.jsonl")
    assert [s.step for s in log.steps] == [0, 2]
    for report in log.steps:
        for stat, value in report.layers[site].model_dump().items():
            if isinstance(value, float) and math.isfinite(value):
                tag = f"attnlint/{site}/{stat}"
                assert tag in tags, tag
                got = {e.step: e.value for e in events.Scalars(tag)}
                assert got[report.step] == pytest.approx(value, rel=1e-6), tag
    relevance = {e.step: e.value for e in events.Scalars("attnlint/violations/relevance")}
    assert relevance == {0: 0.0, 2: 1.0}
    norms = {e.step: e.value for e in events.Scalars("attnlint/grad_norm/total")}
    assert norms == pytest.approx({s.step: s.grad_norms["total"] for s in log.steps})
    assert {e.step: e.value for e in events.Scalars("attnlint/loss")} == {0: 0.0, 2: 2.0}
    (text,) = events.Tensors("attnlint/violations/text_summary")
    assert text.step == 2 and b"relevance" in text.tensor_proto.string_val[0]


def test_tensorboard_shared_writer_is_flushed_not_closed(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from torch.utils.tensorboard import SummaryWriter

    from attnlint.guard.trackers import TensorBoardOutput

    writer = SummaryWriter(str(tmp_path / "tb"))
    _train([TensorBoardOutput(writer=writer)], tmp_path / "run.jsonl", steps=1)
    writer.add_scalar("mine", 1.0, 0)  # still open: the user's writer is the user's
    writer.close()


def test_wandb_offline_run_files_hold_the_statistics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("wandb")
    from attnlint.guard.trackers import WandbOutput

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    out = WandbOutput(init={"project": "attnlint-test", "dir": str(tmp_path)})
    run_dir = Path(out.run.dir).parent
    guard = _train([out], tmp_path / "run.jsonl")
    (site,) = guard.sites
    log = read_run_log(tmp_path / "run.jsonl")
    records = wandb_records(run_dir)
    rows = records["history"]
    assert [row["attnlint/step"] for row in rows] == [0, 2]
    for row, report in zip(rows, log.steps, strict=True):
        want = report.layers[site].normalized_entropy
        assert row[f"attnlint/{site}/normalized_entropy"] == pytest.approx(want, rel=1e-6)
        assert row["attnlint/violations/relevance"] == (1.0 if report.step == 2 else 0.0)
        assert row["attnlint/loss"] == report.loss
    summary: dict[str, Any] = {}
    for update in records["summary"]:
        summary.update(update)
    assert summary["attnlint/step"] == 2
    assert summary["attnlint/violations/total"] == 1.0


def test_the_step_that_raises_reaches_the_tracker(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from attnlint.guard import GuardError
    from attnlint.guard.trackers import TensorBoardOutput

    out = TensorBoardOutput(tmp_path / "tb")
    guard = AttentionGuard(SET.make(), config=GuardConfig(every=1), outputs=[out])
    args, kwargs = SET.batch()
    with pytest.raises(GuardError):
        for step in range(3):
            scores = guard(*args, **kwargs)
            rel = torch.ones_like(scores) if step == 1 else torch.arange(scores.numel()).float()
            guard.check_relevance(rel.reshape(1, -1))
            guard.step(loss=1.0)
    guard.close()
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    got = {e.step: e.value for e in events.Scalars("attnlint/violations/relevance")}
    assert got == {0: 0.0, 1: 1.0}  # the raising step is written, and nothing after it
