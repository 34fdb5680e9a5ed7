"""``attnlint plot``: the 3x2 grid, inspected on the Figure object rather than pixels."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from _runlogs import SITES, write_collapse_log, write_single_site_log

from attnlint.report.commands import register
from attnlint.report.plot import PlotError, build_figure
from attnlint.report.runlog import read_run_log


def _bands(ax: object) -> list[tuple[float, float]]:
    out = []
    for patch in ax.patches:  # type: ignore[attr-defined]
        if patch.get_gid() == "healthy-band":
            ys = [y for _, y in patch.get_path().transformed(patch.get_patch_transform()).vertices]
            out.append((round(min(ys), 6), round(max(ys), 6)))
    return out


def test_grid_layout_scales_and_bands(tmp_path: Path) -> None:
    fig = build_figure(read_run_log(write_collapse_log(tmp_path / "run.jsonl")))
    ent, rank, topk, row, col, res = fig.axes[:6]
    assert len(fig.axes) == 7  # the 3x2 grid plus column entropy's twin axis
    assert [a.get_subplotspec().get_geometry()[:2] for a in fig.axes[:6]] == [(3, 2)] * 6
    assert "entropy" in ent.get_title().lower()
    assert "effective rank" in rank.get_title().lower() and rank.get_yscale() == "log"
    assert "top-k" in topk.get_title().lower()
    assert "max row weight" in row.get_title().lower()
    assert "column entropy" in col.get_title().lower()
    assert "max column sum" in fig.axes[6].get_ylabel()
    assert "residual" in res.get_title().lower() and res.get_yscale() == "log"
    assert _bands(res) == [(0.1, 1.0)]
    assert _bands(row) == [(0.1, 0.5)]
    assert _bands(ent) == [(0.1, 0.995)]
    assert _bands(rank) == []  # no universal healthy effective rank
    # x axis is the site; the last sampled step is drawn bold with the collapsed value.
    assert [t.get_text() for t in ent.get_xticklabels()] == [s.split(".", 1)[1] for s in SITES]
    last = max(ent.get_lines(), key=lambda line: line.get_linewidth())
    assert list(last.get_ydata()) == pytest.approx([0.7, 0.0123, 0.7])
    assert "collapse-run" in fig._suptitle.get_text()  # type: ignore[attr-defined]
    assert "violations" in fig._suptitle.get_text()  # type: ignore[attr-defined]


def test_one_step(tmp_path: Path) -> None:
    fig = build_figure(read_run_log(write_collapse_log(tmp_path / "run.jsonl")), step=2)
    ys = [list(line.get_ydata()) for line in fig.axes[0].get_lines() if len(line.get_ydata()) == 3]
    assert ys == [pytest.approx([0.7, 0.7, 0.7])]
    with pytest.raises(PlotError, match="step 99 not in the run log"):
        build_figure(read_run_log(tmp_path / "run.jsonl"), step=99)


def test_single_site_plots_over_steps(tmp_path: Path) -> None:
    fig = build_figure(read_run_log(write_single_site_log(tmp_path / "one.jsonl", steps=10)))
    assert fig.axes[0].get_xlabel() == "training step"
    (line,) = [ln for ln in fig.axes[0].get_lines() if len(ln.get_xdata()) == 10]
    assert list(line.get_xdata()) == list(range(10))


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    return int(args.handler(args))


def test_plot_command_writes_png(tmp_path: Path) -> None:
    log = write_collapse_log(tmp_path / "run.jsonl")
    out = tmp_path / "diag.png"
    assert _cli("plot", str(log), "-o", str(out)) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_command_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = write_collapse_log(tmp_path / "run.jsonl")
    assert _cli("plot", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "x.png")) == 2
    assert "no such run log" in capsys.readouterr().err
    assert _cli("plot", str(log), "-o", str(tmp_path / "no" / "dir" / "x.png")) == 2
    err = capsys.readouterr().err
    assert "cannot write" in err and err.count("\n") == 1


def test_log_without_attention_statistics(tmp_path: Path) -> None:
    from attnlint.records import StepReport
    from attnlint.report.runlog import RunLogWriter

    path = tmp_path / "empty.jsonl"
    with RunLogWriter(path, header={}) as w:
        w.write(StepReport(step=0, loss=1.0))
    with pytest.raises(PlotError, match="no sampled step with attention statistics"):
        build_figure(read_run_log(path))


def test_missing_matplotlib_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    log = write_collapse_log(tmp_path / "run.jsonl")
    monkeypatch.delitem(sys.modules, "attnlint.report.plot", raising=False)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    assert _cli("plot", str(log), "-o", str(tmp_path / "x.png")) == 2
    assert "attnlint[plot]" in capsys.readouterr().err
