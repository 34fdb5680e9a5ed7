"""Sampling, host syncs, memory, violation handling, grad norms, the helpers' hooks."""

from __future__ import annotations

import gc
import json
import logging
import math
import warnings

import pytest
import torch
from guard_models import FAMILIES, first_output

from attnlint.guard import AttentionGuard, GuardConfig, GuardError
from attnlint.guard.core import GuardWarning

CAUSAL = FAMILIES[2]


class SyncCounter:
    """Counts the tensor -> Python conversions that force a host-device sync."""

    NAMES = ("item", "tolist", "__bool__", "__float__", "__int__")

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        for name in self.NAMES:
            original = getattr(torch.Tensor, name)

            def counted(self_t, *a, _n=name, _o=original, **k):
                self.calls.append(_n)
                return _o(self_t, *a, **k)

            monkeypatch.setattr(torch.Tensor, name, counted)


def train_step(guard: AttentionGuard, model, args, kwargs) -> None:
    out = first_output(guard(*args, **kwargs))
    guard.check_scores(out)
    guard.check_relevance(torch.arange(out.numel(), dtype=torch.float).reshape(out.shape))
    loss = out.square().mean()
    loss.backward()
    guard.record_grad_norms()
    model.zero_grad(set_to_none=True)
    return loss


def test_every_n_samples_one_step_in_n() -> None:
    model = CAUSAL.make()
    args, kwargs = CAUSAL.batch()
    guard = AttentionGuard(model, config=GuardConfig(every=3, on_violation="raise"))
    sampled = []
    for _ in range(7):
        loss = train_step(guard, model, args, kwargs)
        report = guard.step(loss=loss)
        sampled.append((report.sampled, bool(report.layers), report.loss is not None))
    guard.close()
    expect = [i % 3 == 0 for i in range(7)]
    assert [s for s, _, _ in sampled] == expect
    assert [bool(layers) for _, layers, _ in sampled] == expect
    assert [has_loss for _, _, has_loss in sampled] == expect


def test_one_host_sync_per_sampled_step_and_none_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = CAUSAL.make()
    args, kwargs = CAUSAL.batch()
    guard = AttentionGuard(model, config=GuardConfig(every=2, on_violation="raise"))
    counter = SyncCounter(monkeypatch)
    out = first_output(guard(*args, **kwargs))  # step 0: sampled
    guard.check_scores(out)
    guard.step(loss=out.sum())
    assert counter.calls == ["tolist"]
    counter.calls.clear()
    out = first_output(guard(*args, **kwargs))  # step 1: not sampled
    guard.check_scores(out)
    guard.check_relevance(out.detach())
    assert guard.record_grad_norms() == {}
    guard.step(loss=out.sum())
    assert counter.calls == []
    guard.close()


def test_cheap_checks_catch_nan_between_samples() -> None:
    model = CAUSAL.make()
    args, kwargs = CAUSAL.batch()
    bad = args[0].clone()
    bad[0, 0, 0] = math.nan
    guard = AttentionGuard(model, config=GuardConfig(every=4, on_violation="log"))
    reports = []
    for i in range(5):
        guard((bad if i == 2 else args[0]), **kwargs)
        reports.append(guard.step())
    guard.close()
    assert all(not r.violations for r in reports[:4])  # steps 1-3 are not sampled
    (v,) = reports[4].violations
    assert (v.check, v.site, v.value) == ("finite_scores", "output", 1.0)
    assert "since step 1" in v.message


def test_memory_is_flat_over_1000_steps() -> None:
    model = CAUSAL.make()
    args, kwargs = CAUSAL.batch()
    guard = AttentionGuard(model, config=GuardConfig(every=10, on_violation="raise"))

    def live_tensors() -> int:
        gc.collect()
        return sum(1 for o in gc.get_objects() if type(o) in (torch.Tensor, torch.nn.Parameter))

    counts = []
    for i in range(1000):
        loss = train_step(guard, model, args, kwargs)
        guard.step(loss=loss)
        if i in (99, 999):
            counts.append(live_tensors())
    guard.close()
    assert counts[0] == counts[1]
    assert len(guard._losses) <= 200


def test_on_violation_modes(caplog: pytest.LogCaptureFixture) -> None:
    fam = FAMILIES[0]
    args, kwargs = fam.batch()
    results = {}
    for mode in ("raise", "warn", "log"):
        model = fam.make()
        fam.one_hot(model)
        guard = AttentionGuard(model, config=GuardConfig(on_violation=mode))
        guard(*args, **kwargs)
        with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
            warnings.simplefilter("always")
            caplog.clear()
            try:
                guard.step()
                results[mode] = ("returned", [w.category for w in caught], caplog.records)
            except GuardError as exc:
                results[mode] = ("raised", exc.violations, [])
        guard.close()
    assert results["raise"][0] == "raised"
    assert results["raise"][1][0].check == "attention_entropy"
    assert results["warn"][0] == "returned" and GuardWarning in results["warn"][1]
    assert results["log"][0] == "returned"
    assert [r.name for r in results["log"][2]] == ["attnlint.guard"]


def test_grad_norms_before_clipping_per_top_level_module() -> None:
    fam = FAMILIES[0]
    model = fam.make()
    args, kwargs = fam.batch()
    guard = AttentionGuard(model)
    first_output(guard(*args, **kwargs)).square().sum().backward()
    norms = guard.record_grad_norms()
    total = torch.nn.utils.clip_grad_norm_(model.parameters(), 1e-3)
    report = guard.step()
    guard.close()
    assert set(norms) == {"total", "encoder", "attention", "scorer"}
    assert norms["total"] == pytest.approx(total.item(), rel=1e-5)
    parts = math.sqrt(sum(v**2 for k, v in norms.items() if k != "total"))
    assert parts == pytest.approx(norms["total"], rel=1e-5)
    assert report.grad_norms == norms
    guard2 = AttentionGuard(model)
    assert guard2.record_grad_norms({"total": 2.0, "encoder": 1.0}) == {
        "total": 2.0,
        "encoder": 1.0,
    }
    assert guard2.step().grad_norms == {"total": 2.0, "encoder": 1.0}
    guard2.close()


def test_config_from_pyproject(tmp_path) -> None:
    p = tmp_path / "pyproject.toml"
    p.write_text("[tool.attnlint.guard]\nevery = 7\nentropy_low = 0.2\n")
    cfg = GuardConfig.from_pyproject(p, on_violation="warn")
    assert (cfg.every, cfg.entropy_low, cfg.on_violation) == (7, 0.2, "warn")
    p.write_text("[tool.attnlint.guard]\nevrey = 7\n")
    with pytest.raises(ValueError, match="evrey"):
        GuardConfig.from_pyproject(p)


def test_run_log_is_written_for_sampled_steps(tmp_path) -> None:
    import attnlint.report.runlog  # noqa: F401

    model = CAUSAL.make()
    args, kwargs = CAUSAL.batch()
    path = tmp_path / "run.jsonl"
    guard = AttentionGuard(model, config=GuardConfig(every=2), log_path=str(path))
    for _ in range(4):
        guard(*args, **kwargs)
        guard.step(loss=1.0)
    guard.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0]["kind"] == "header"
    assert lines[0]["sites"] == {"block": guard.sites["block"]}
    assert lines[0]["input_dim"] == 6
    assert [r["step"] for r in lines[1:]] == [0, 2]
    assert "block" in lines[1]["layers"]


def test_plateau_forces_a_sampled_step_with_diagnosis() -> None:
    import attnlint.guard.diagnosis
    import attnlint.guard.plateau  # noqa: F401

    model = CAUSAL.make()
    args, kwargs = CAUSAL.batch()
    cfg = GuardConfig(every=100, plateau_patience=3, on_violation="log")
    guard = AttentionGuard(model, config=cfg)
    reports = []
    for _ in range(6):
        guard(*args, **kwargs)
        reports.append(guard.step(loss=1.0))  # a flat loss
    guard.close()
    # step 0 sets the best loss, steps 1-3 are stale; the plateau at step 3 forces step 4
    assert [r.sampled for r in reports] == [True, False, False, False, True, False]
    assert reports[4].diagnosis and not reports[3].diagnosis


def test_paused_forwards_are_neither_captured_nor_checked() -> None:
    from guard_models import SDPAModel

    torch.manual_seed(0)
    model = SDPAModel().eval()
    clean = torch.randn(2, 5, 6)
    poisoned = clean.clone()
    poisoned[0, 1, 2] = float("nan")
    guard = AttentionGuard(model, config=GuardConfig(every=1, on_violation="raise"))
    guard.pause()
    assert guard.is_paused
    model(poisoned)  # e.g. a validation batch between two training steps
    guard.resume()
    model(clean)
    report = guard.step()
    assert report.violations == []
    assert report.batch is not None and report.batch.input_min == clean.min().item()
    model(poisoned)  # not paused: observed, and it raises
    with pytest.raises(GuardError):
        guard.step()
    guard.close()
