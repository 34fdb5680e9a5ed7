"""AttentionGuardTrainerCallback in real Hugging Face Trainer loops (CPU, tiny BERT)."""

from __future__ import annotations

import importlib
import math
import sys
from pathlib import Path
from typing import Any

import pytest

transformers = pytest.importorskip("transformers")  # the dev extra installs it: runs in CI
import torch  # noqa: E402
from conftest import SpyError, install_spy_guard  # noqa: E402

import attnlint.guard  # noqa: E402
from attnlint.guard import GuardConfig  # noqa: E402
from attnlint.integrations.hf import AttentionGuardTrainerCallback  # noqa: E402

CLIP = 1e-3
HIDDEN = 16


def tiny_bert() -> Any:
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=64,
        hidden_size=HIDDEN,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
        num_labels=2,
    )
    return transformers.BertForSequenceClassification(config)  # built from config: no hub


def dataset(n: int = 24, nan_batch: int | None = None) -> list[dict[str, Any]]:
    gen = torch.Generator().manual_seed(1)
    rows = []
    for i in range(n):
        embeds = torch.randn(8, HIDDEN, generator=gen)
        if nan_batch is not None and i // 4 == nan_batch:
            embeds[:] = float("nan")
        rows.append({"inputs_embeds": embeds, "labels": torch.tensor(i % 2)})
    return rows


def train(
    callback: Any,
    tmp_path: Path,
    data: list[dict[str, Any]],
    max_steps: int = 3,
    eval_data: list[dict[str, Any]] | None = None,
    **kw: Any,
) -> Any:
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"),
        max_steps=max_steps,
        per_device_train_batch_size=4,
        learning_rate=1e-3,
        max_grad_norm=CLIP,
        report_to=[],
        use_cpu=True,
        save_strategy="no",
        logging_strategy="steps",
        logging_steps=1,
        disable_tqdm=True,
        dataloader_num_workers=0,
        **kw,
    )
    trainer = transformers.Trainer(
        model=tiny_bert(),
        args=args,
        train_dataset=data,
        eval_dataset=eval_data,
        callbacks=[callback],
    )
    return trainer


class SpyGuard:
    """Stands in for AttentionGuard: records what the callback hands it."""

    instances: list[SpyGuard] = []
    fail_at: int | None = None

    def __init__(self, model: Any, config: Any = None, **kw: Any) -> None:
        self.model, self.norms, self.post_clip, self.losses = model, [], [], []
        self.steps, self.closed, self.moments = 0, False, []
        SpyGuard.instances.append(self)

    def record_grad_norms(self, norms: Any = None) -> Any:
        self.norms.append(dict(norms))
        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        self.post_clip.append(math.sqrt(sum(float(g.pow(2).sum()) for g in grads)))
        return norms

    def step(self, loss: Any = None) -> None:
        self.moments.append("step")
        self.losses.append(None if loss is None else float(loss))
        self.steps += 1
        if SpyGuard.fail_at == self.steps:
            raise attnlint.guard.GuardError([])

    def close(self) -> None:
        self.closed = True

    def pause(self) -> None:
        self.moments.append("pause")

    def resume(self) -> None:
        self.moments.append("resume")


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> type[SpyGuard]:
    return install_spy_guard(monkeypatch, SpyGuard)


def test_missing_transformers_is_a_one_line_import_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)
    monkeypatch.delitem(sys.modules, "attnlint.integrations.hf", raising=False)
    with pytest.raises(ImportError, match=r"pip install transformers") as info:
        importlib.import_module("attnlint.integrations.hf")
    assert "\n" not in str(info.value)


def test_pre_clip_norms_match_the_trainers_own_and_differ_from_post_clip(
    spy: type[SpyGuard], tmp_path: Path
) -> None:
    callback = AttentionGuardTrainerCallback(config=GuardConfig())
    trainer = train(callback, tmp_path, dataset())
    trainer.train()
    (guard,) = spy.instances
    assert guard.steps == 3 and len(guard.norms) == 3
    hf_norms = [e["grad_norm"] for e in trainer.state.log_history if "grad_norm" in e]
    ours = [n["total"] for n in guard.norms]
    # the Trainer logs the norm clip_grad_norm_ returned (pre-clip): ours must agree
    assert ours == pytest.approx(hf_norms, rel=1e-4)
    assert all(n > 10 * CLIP for n in ours)
    # what .grad holds when HF callbacks run is already clipped
    assert all(p <= CLIP * 1.01 for p in guard.post_clip)
    groups = set(guard.norms[0]) - {"total"}
    assert groups == {"bert", "classifier"}
    sub = math.sqrt(sum(guard.norms[0][g] ** 2 for g in groups))
    assert sub == pytest.approx(guard.norms[0]["total"], rel=1e-5)
    # the loss comes from the model's own output
    hf_losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    assert guard.losses == pytest.approx(hf_losses, rel=1e-4)
    assert guard.closed
    assert callback.norms is None  # parameter hooks removed
    assert not trainer.model._forward_hooks


def test_gradient_accumulation_counts_the_accumulated_gradient_once(
    spy: type[SpyGuard], tmp_path: Path
) -> None:
    callback = AttentionGuardTrainerCallback()
    trainer = train(callback, tmp_path, dataset(n=48), gradient_accumulation_steps=2)
    trainer.train()
    hf_norms = [e["grad_norm"] for e in trainer.state.log_history if "grad_norm" in e]
    assert [n["total"] for n in spy.instances[0].norms] == pytest.approx(hf_norms, rel=1e-4)


def test_violation_stops_training_then_raises(spy: type[SpyGuard], tmp_path: Path) -> None:
    spy.fail_at = 2
    callback = AttentionGuardTrainerCallback()
    trainer = train(callback, tmp_path, dataset(n=48), max_steps=10)
    with pytest.raises(SpyError):
        trainer.train()
    assert trainer.state.global_step == 2
    assert spy.instances[0].closed


@pytest.fixture
def real_guard() -> None:
    import attnlint.guard.core  # noqa: F401


def test_real_guard_healthy_run(real_guard: None, tmp_path: Path) -> None:
    callback = AttentionGuardTrainerCallback(config=GuardConfig(every=1, on_violation="raise"))
    trainer = train(callback, tmp_path, dataset())
    trainer.train()
    report = callback.reports[-1]
    assert report.violations == []
    hf_norm = [e["grad_norm"] for e in trainer.state.log_history if "grad_norm" in e][-1]
    assert report.grad_norms["total"] == pytest.approx(hf_norm, rel=1e-4)
    assert report.grad_norms["total"] > 10 * CLIP
    assert report.loss is not None and math.isfinite(report.loss)


def test_real_guard_nan_batch_stops_training(real_guard: None, tmp_path: Path) -> None:
    from attnlint.guard import GuardError

    callback = AttentionGuardTrainerCallback(config=GuardConfig(every=1, on_violation="raise"))
    trainer = train(callback, tmp_path, dataset(n=48, nan_batch=1), max_steps=10)
    with pytest.raises(GuardError) as info:
        trainer.train()
    # the Trainer shuffles: stop on the first step whose batch held a NaN row, no later
    norms = [e["grad_norm"] for e in trainer.state.log_history if "grad_norm" in e]
    assert len(norms) == trainer.state.global_step < 10
    assert math.isnan(norms[-1]) and all(math.isfinite(n) for n in norms[:-1])
    assert any(v.check == "finite_scores" for v in info.value.violations)


def test_evaluation_between_steps_is_not_observed(real_guard: None, tmp_path: Path) -> None:
    # Evaluation runs after on_step_end; its NaN batches must not become a training
    # step's violation (the callback pauses the guard outside training steps).
    callback = AttentionGuardTrainerCallback(config=GuardConfig(every=1, on_violation="raise"))
    trainer = train(
        callback,
        tmp_path,
        dataset(),
        max_steps=3,
        eval_data=dataset(n=8, nan_batch=0),
        eval_strategy="steps",
        eval_steps=1,
        per_device_eval_batch_size=4,
    )
    trainer.train()
    assert trainer.state.global_step == 3
    assert any("eval_loss" in e for e in trainer.state.log_history)  # evaluation did run
    assert callback.error is None
    assert callback.reports[-1].violations == []


def _scalars(folder: Path) -> dict[str, dict[int, float]]:
    """Every scalar in the TensorBoard event files under ``folder``, via tensorboard's reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out: dict[str, dict[int, float]] = {}
    for events_file in folder.rglob("events.out.tfevents.*"):
        events = EventAccumulator(str(events_file))
        events.Reload()
        for tag in events.Tags()["scalars"]:
            out.setdefault(tag, {}).update({e.step: e.value for e in events.Scalars(tag)})
    return out


def test_statistics_reach_the_trainers_tensorboard(
    real_guard: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("tensorboard")
    callback = AttentionGuardTrainerCallback(
        config=GuardConfig(every=2, on_violation="raise"), log_path=tmp_path / "run.jsonl"
    )
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"),
        max_steps=4,
        per_device_train_batch_size=4,
        max_grad_norm=CLIP,
        report_to=["tensorboard"],
        use_cpu=True,
        save_strategy="no",
        logging_steps=100,  # the Trainer's own logging is rare; the guard's sampling is not
        disable_tqdm=True,
    )
    trainer = transformers.Trainer(
        model=tiny_bert(), args=args, train_dataset=dataset(), callbacks=[callback]
    )
    trainer.train()
    scalars = _scalars(tmp_path / "out")
    from attnlint.report.runlog import read_run_log

    log = read_run_log(tmp_path / "run.jsonl")
    assert [s.step for s in log.steps] == [0, 2]
    site = next(iter(log.steps[0].layers))
    # the Trainer's TensorBoardCallback prefixes "train/" and uses its global step (1-based)
    tag = f"train/attnlint/{site}/normalized_entropy"
    want = [s.layers[site].normalized_entropy for s in log.steps]
    assert sorted(scalars[tag]) == [1, 3]
    assert [scalars[tag][k] for k in (1, 3)] == pytest.approx(want, rel=1e-6)
    grad = scalars["train/attnlint/grad_norm/total"]
    assert list(grad.values()) == pytest.approx([s.grad_norms["total"] for s in log.steps])
    assert scalars["train/attnlint/violations/total"] == {1: 0.0, 3: 0.0}
    # not in the checkpointed history, and nothing printed per sampled step
    assert not any("attnlint/loss" in row for row in trainer.state.log_history)
    assert "attnlint/" not in capsys.readouterr().out  # the PrinterCallback was left out


def test_called_outside_a_trainer_it_says_the_trainer_logs_nothing(real_guard: None) -> None:
    callback = AttentionGuardTrainerCallback(config=GuardConfig(every=1))
    state = transformers.TrainerState()
    with pytest.warns(RuntimeWarning, match="log_to_trainer=False"):
        callback.on_train_begin(None, state, transformers.TrainerControl(), model=tiny_bert())
    callback.close()
