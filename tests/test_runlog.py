"""Run log: round trip, torn lines, SIGKILL crash safety, schema versions."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from attnlint.records import SCHEMA_VERSION, AttentionStats, BatchStats, StepReport, Violation
from attnlint.report.runlog import RunLogError, RunLogWriter, read_run_log


def _report(step: int, loss: float = 1.0) -> StepReport:
    return StepReport(
        step=step,
        loss=loss,
        layers={"attn": AttentionStats(observed="recomputed", entropy=1.5, normalized_entropy=0.8)},
        grad_norms={"total": 2.0, "encoder": 1.0},
        batch=BatchStats(list_count=4, rel_std=0.5, input_dim=8),
        violations=[
            Violation(
                check="attention_mass", site="attn", step=step, value=0.0, bound=0.99, message="m"
            )
        ]
        if step == 2
        else [],
    )


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    with RunLogWriter(path, header={"run": "demo", "model": "DeepSetRank"}) as w:
        for step in range(3):
            w.write(_report(step, loss=10.0 - step))
    first = json.loads(path.read_text().splitlines()[0])
    assert first["kind"] == "header"
    assert first["schema_version"] == SCHEMA_VERSION
    assert first["model"] == "DeepSetRank"
    log = read_run_log(path)
    assert log.name == "demo"
    assert [s.step for s in log.steps] == [0, 1, 2]
    assert log.steps[1] == _report(1, loss=9.0)
    assert [v.check for v in log.violations] == ["attention_mass"]
    assert log.sites == ["attn"]
    assert log.warnings == []


def test_header_cannot_override_reserved_keys(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    RunLogWriter(path, header={"kind": "step", "schema_version": 99}).close()
    log = read_run_log(path)
    assert log.headers[0]["kind"] == "header"
    assert log.headers[0]["schema_version"] == SCHEMA_VERSION


def test_nonfinite_values_are_written_as_null(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    with RunLogWriter(path, header={}) as w:
        w.write(StepReport(step=0, loss=math.nan, grad_norms={"total": math.inf}))
    line = path.read_text().splitlines()[1]
    json.loads(line)  # strict JSON: no bare NaN / Infinity tokens
    assert "NaN" not in line and "Infinity" not in line
    step = read_run_log(path).steps[0]
    assert step.loss is None and step.grad_norms["total"] is None


def test_truncated_last_line_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    with RunLogWriter(path, header={}) as w:
        w.write(_report(0))
        w.write(_report(1))
    text = path.read_text()
    path.write_text(text[: len(text) - 40])  # tear the last record
    log = read_run_log(path)
    assert [s.step for s in log.steps] == [0]
    assert len(log.warnings) == 1 and "truncated" in log.warnings[0]


def test_resume_after_torn_line_appends_new_header(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    with RunLogWriter(path, header={"attempt": 1}) as w:
        w.write(_report(0))
        w.write(_report(1))
    text = path.read_text()
    path.write_text(text[: len(text) - 40])
    with RunLogWriter(path, header={"attempt": 2}) as w:
        w.write(_report(1))
    log = read_run_log(path)
    assert [h["attempt"] for h in log.headers] == [1, 2]
    assert log.header["attempt"] == 2
    assert [s.step for s in log.steps] == [0, 1]
    assert len(log.warnings) == 1


def test_resumed_run_replaces_the_repeated_steps(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    with RunLogWriter(path, header={"attempt": 1}) as w:
        for step in range(5):
            w.write(_report(step, loss=1.0))
    with RunLogWriter(path, header={"attempt": 2}) as w:  # resumed from the step-3 checkpoint
        for step in range(3, 6):
            w.write(_report(step, loss=2.0))
    log = read_run_log(path)
    assert [(s.step, s.loss) for s in log.steps] == [
        (0, 1.0),
        (1, 1.0),
        (2, 1.0),
        (3, 2.0),
        (4, 2.0),
        (5, 2.0),
    ]


def test_corrupt_middle_line_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    with RunLogWriter(path, header={}) as w:
        w.write(_report(0))
        w.write(_report(1))
    lines = path.read_text().splitlines()
    lines[1] = lines[1][:20]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RunLogError, match=r"run.jsonl:2: corrupt"):
        read_run_log(path)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_text(json.dumps({"kind": "header", "schema_version": SCHEMA_VERSION + 1}) + "\n")
    with pytest.raises(RunLogError, match="upgrade attnlint") as exc:
        read_run_log(path)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (None, "no such run log"),
        ("", "empty file"),
        ('{"kind": "step", "step": 0}\n', "no header record"),
        ("[1, 2]\n", "not an object"),
        ('{"kind": "head', "no header record"),  # one torn line: nothing was ever a run log
        ("\n\n", "empty file"),
    ],
)
def test_bad_files(tmp_path: Path, content: str | None, match: str) -> None:
    path = tmp_path / "run.jsonl"
    if content is not None:
        path.write_text(content)
    with pytest.raises(RunLogError, match=match):
        read_run_log(path)


def test_invalid_step_record_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    RunLogWriter(path, header={}).close()
    with path.open("a") as fh:
        fh.write(json.dumps({"kind": "step", "step": "not a number"}) + "\n")
    with pytest.raises(RunLogError, match=r":2: invalid step record \(step"):
        read_run_log(path)


_WRITER = """
import sys
from attnlint.records import AttentionStats, StepReport
from attnlint.report.runlog import RunLogWriter
w = RunLogWriter(sys.argv[1], header={"run": "killed"})
big = {f"layer{i}": AttentionStats(observed="hook", entropy=float(i)) for i in range(20)}
step = 0
while True:
    w.write(StepReport(step=step, layers=big))
    step += 1
    if step == 20:
        print("ready", flush=True)
"""


def test_sigkill_leaves_every_finished_line_readable(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready"
    time.sleep(0.2)  # let it write mid-stream
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    log = read_run_log(path)
    assert len(log.steps) >= 20
    assert [s.step for s in log.steps] == list(range(len(log.steps)))
    assert all(len(s.layers) == 20 for s in log.steps)
    # Every complete line in the file parsed; at most the one being written was torn.
    assert len(log.warnings) <= 1
