"""``attnlint report``: content of the terminal summary and the command's error handling."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest
from _runlogs import COLLAPSED, SITES, write_collapse_log

from attnlint.report.commands import register
from attnlint.report.runlog import read_run_log
from attnlint.report.summary import make_console, render, sparkline, verdict


def _render(path: Path, **kw: object) -> str:
    buf = io.StringIO()
    render(read_run_log(path), make_console(file=buf, width=160), **kw)  # type: ignore[arg-type]
    return buf.getvalue()


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    return int(args.handler(args))


def test_violations_come_first_then_sites(tmp_path: Path) -> None:
    text = _render(write_collapse_log(tmp_path / "run.jsonl"))
    assert "\x1b[" not in text  # plain text when not a terminal
    v = text.index("violations (6)")
    assert v < text.index(f"site {SITES[0]}")
    assert "attention_entropy" in text[v:]
    assert "6..11 (6x)" in text  # grouped: first..last step, count
    assert "0.0123" in text and "0.1" in text  # value vs bound
    for site in SITES:
        assert f"site {site} (observed: recomputed)" in text
    assert "chain diagnosis (step 11)" in text


def test_healthy_range_beside_values_and_out_of_range_marked(tmp_path: Path) -> None:
    text = _render(write_collapse_log(tmp_path / "run.jsonl"))
    collapsed = text[text.index(f"site {COLLAPSED}") : text.index(f"site {SITES[2]}")]
    row = next(line for line in collapsed.splitlines() if "normalized_entropy" in line)
    assert "0.1-0.995" in row
    assert "0.7" in row and "0.0123!" in row  # healthy first step, flagged last step
    batch = text[text.index("batch") :]
    assert "input_dim" in batch and "21" in batch
    assert "0.000123" in text[text.index("gradient norms") :]


def test_site_and_last_filters(tmp_path: Path) -> None:
    path = write_collapse_log(tmp_path / "run.jsonl")
    text = _render(path, site=SITES[0], last=3)
    assert f"site {SITES[0]}" in text and f"site {SITES[1]}" not in text
    assert "violations" not in text.split("\n", 2)[2]  # the violations were on another site
    assert "step 9" in text and "step 11" in text and "step 0 " not in text


def test_verdict(tmp_path: Path) -> None:
    log = read_run_log(write_collapse_log(tmp_path / "run.jsonl"))
    line = verdict(log)
    assert line.startswith("collapse-run: 6 violations (attention_entropy)")
    assert f"first attention_entropy at {COLLAPSED} on step 6" in line
    healthy = read_run_log(write_collapse_log(tmp_path / "h.jsonl", collapse_at=99))
    assert verdict(healthy).startswith("collapse-run: no violations in 12 sampled steps")


def test_sparkline() -> None:
    assert sparkline([0.0, 1.0, None, 0.5]) == "▁█ ▅"
    assert sparkline([2.0, 2.0]) == "▄▄"
    assert sparkline([None]) == ""


def test_report_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_collapse_log(tmp_path / "run.jsonl")
    assert _cli("report", str(path)) == 0
    assert "attention_entropy" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        (None, (), "no such run log"),
        ("garbage\n{}\n", (), "corrupt record"),
        ("VALID", ("--site", "nope"), "site 'nope' not in"),
    ],
)
def test_report_command_errors(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str | None,
    extra: tuple[str, ...],
    message: str,
) -> None:
    path = tmp_path / "run.jsonl"
    if content == "VALID":
        write_collapse_log(path)
    elif content is not None:
        path.write_text(content)
    assert _cli("report", str(path), *extra) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_commands_module_imports_neither_torch_nor_matplotlib() -> None:
    import subprocess
    import sys

    code = (
        "import sys, attnlint.report.commands; "
        "print(any(m in sys.modules for m in ('torch', 'matplotlib')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert out.stdout.strip() == "False"


def test_demo_without_torch_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ImportError
    assert _cli("demo", "--out", str(tmp_path / "demo")) == 2
    err = capsys.readouterr().err
    assert "attnlint[runtime]" in err and err.count("\n") == 1
    assert not (tmp_path / "demo").exists()


def test_run_log_is_appended_by_default_and_replaced_on_request(tmp_path: Path) -> None:
    from attnlint.records import StepReport
    from attnlint.report.runlog import RunLogWriter

    path = tmp_path / "run.jsonl"
    for _ in range(2):
        with RunLogWriter(path, header={"run": "a"}) as w:
            w.write(StepReport(step=0, loss=1.0))
    assert len(read_run_log(path).headers) == 2  # appended: a resumed run continues its log
    with RunLogWriter(path, header={"run": "b"}, append=False) as w:
        w.write(StepReport(step=0, loss=2.0))
    log = read_run_log(path)
    assert len(log.headers) == 1 and log.name == "b" and [s.loss for s in log.steps] == [2.0]


def test_a_non_finite_loss_survives_the_run_log(tmp_path: Path) -> None:
    import math

    from attnlint.records import StepReport
    from attnlint.report.runlog import RunLogWriter
    from attnlint.report.summary import losses

    path = tmp_path / "run.jsonl"
    with RunLogWriter(path, header={}) as w:
        for step, loss in enumerate([3.0, math.nan, math.inf, None]):
            w.write(StepReport(step=step, loss=loss))
    got = losses(read_run_log(path).steps)
    assert got[0] == 3.0 and math.isnan(got[1]) and got[2] == math.inf and got[3] is None
