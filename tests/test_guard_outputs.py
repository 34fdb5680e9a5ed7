"""Outputs: every finished sampled report reaches each output once, header first."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from guard_models import FAMILIES

from attnlint.guard import AttentionGuard, GuardConfig, StepReport
from attnlint.guard.outputs import HeaderOutput, Output, RunLogOutput

CAUSAL = FAMILIES[2]


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def write(self, report: StepReport) -> None:
        self.events.append(("write", report))

    def close(self) -> None:
        self.events.append(("close", None))


class HeaderRecorder(Recorder):
    def write_header(self, header: Mapping[str, Any]) -> None:
        self.events.append(("header", dict(header)))


def _run(guard: AttentionGuard, steps: int) -> None:
    args, kwargs = CAUSAL.batch()
    for _ in range(steps):
        guard(*args, **kwargs)
        guard.step(loss=1.0)


def test_outputs_receive_sampled_reports_only_and_are_closed() -> None:
    plain, headed = Recorder(), HeaderRecorder()
    assert isinstance(plain, Output) and not isinstance(plain, HeaderOutput)
    assert isinstance(headed, HeaderOutput)
    guard = AttentionGuard(CAUSAL.make(), config=GuardConfig(every=3), outputs=[plain, headed])
    _run(guard, 7)
    guard.close()
    assert [e for e, _ in plain.events] == ["write", "write", "write", "close"]
    assert [r.step for e, r in plain.events if e == "write"] == [0, 3, 6]
    kinds = [e for e, _ in headed.events]
    assert kinds == ["header", "write", "write", "write", "close"]
    header = headed.events[0][1]
    # sites found on the first sampled forward are already in the header
    assert "block" in header["sites"] and header["input_dim"] == 6
    report = plain.events[0][1]
    assert "block" in report.layers
    # python values only: an output can never trigger a device sync of its own
    assert all(
        isinstance(v, float)
        for v in report.layers["block"].model_dump().values()
        if v is not None and not isinstance(v, (str, int, bool))
    )


def test_log_path_and_outputs_together(tmp_path) -> None:
    extra = Recorder()
    path = tmp_path / "run.jsonl"
    guard = AttentionGuard(
        CAUSAL.make(), config=GuardConfig(every=2), log_path=str(path), outputs=[extra]
    )
    _run(guard, 4)
    guard.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["kind"] for r in lines] == ["header", "step", "step"]
    assert [r.step for e, r in extra.events if e == "write"] == [0, 2]


def test_run_log_output_opens_lazily(tmp_path) -> None:
    path = tmp_path / "never.jsonl"
    guard = AttentionGuard(CAUSAL.make(), config=GuardConfig(every=5), outputs=[RunLogOutput(path)])
    args, kwargs = CAUSAL.batch()
    guard(*args, **kwargs)
    guard.close()  # closed before any step finished: no file
    assert not path.exists()
