"""What a person reads in a terminal: ``attnlint report`` and the demo at 80 and 200
columns, ``attnlint rule`` / ``attnlint docs`` rendered, the plot's words and marks."""

from __future__ import annotations

import io
import math
import re
from pathlib import Path

import pytest
from _runlogs import SITES

from attnlint.cli import main
from attnlint.records import AttentionStats, BatchStats, StepReport, Violation
from attnlint.report.runlog import RunLogWriter, read_run_log
from attnlint.report.summary import clean_message, make_console, render, verdict

# The guard's own wording of a collapse, as it is written to the log line: check, step and
# site first, value and bound last (the report prints those itself).
MESSAGE = (
    " step {step}, site 'encoder.layers.0.self_attn': normalised attention entropy is below "
    "the bound: one-hot collapse (QK logits too large: missing 1/sqrt(d) scaling, a learning "
    "rate too high, exploding query/key weights); see `attnlint docs attention-collapse` "
    "(value 0.01, bound 0.1)"
)
SITE = "encoder.layers.0.self_attn"
_SPARKS = set("▁▂▃▄▅▆▇█ ")


def write_log(path: Path, steps: int = 40, collapse_at: int = 5, nan_at: int | None = None) -> Path:
    with RunLogWriter(path, header={"run": "wide", "model": "Toy"}) as w:
        for step in range(steps):
            bad = step >= collapse_at
            stats = AttentionStats(
                observed="hooks on nn.MultiheadAttention inputs; probabilities recomputed",
                entropy=1e-24 if bad else 1.7,
                normalized_entropy=6.336e-25 if bad else 0.93,
                effective_rank=1.0 if bad else 5.77,
                top5=1.0,
                max_row_weight=0.999 if bad else 0.3,
                col_entropy=2.0,
                max_col_sum=1.5,
                mass=1.0,
                nan_rows=0,
                input_variance=0.44,
                logit_std=3.5e4 if bad else 0.016,
                logit_saturation=0.998 if bad else 0.0,
            )
            violations = [
                Violation(
                    check="attention_entropy",
                    site=SITE,
                    step=step,
                    value=0.01,
                    bound=0.1,
                    message=MESSAGE.format(step=step),
                )
            ]
            loss = 8.884 - step * 0.1
            if nan_at is not None and step >= nan_at:
                loss = math.nan
            w.write(
                StepReport(
                    step=step,
                    loss=loss,
                    layers={SITE: stats},
                    violations=violations if bad else [],
                    grad_norms={"total": 4.25, "encoder": 1e-3, "attention": 0.0},
                    batch=BatchStats(list_count=16, list_len_min=4, degenerate_list_share=0.0),
                )
            )
    return path


def rendered(path: Path, width: int) -> str:
    buf = io.StringIO()
    render(read_run_log(path), make_console(file=buf, width=width))
    return buf.getvalue()


def words(text: str) -> set[str]:
    """Whitespace-separated words, less table borders and sparklines."""
    out = set()
    for token in text.split():
        if set(token) <= set("|+-=") or set(token) <= _SPARKS:
            continue
        out.add(token)
    return out


@pytest.mark.parametrize("width", [80, 200])
def test_report_fits_the_width_without_cutting_words(tmp_path: Path, width: int) -> None:
    path = write_log(tmp_path / "run.jsonl")
    text = rendered(path, width)
    assert "…" not in text, "something was truncated with an ellipsis"
    assert max(len(line) for line in text.splitlines()) <= width
    wide = rendered(path, 200)
    split = words(text) - words(wide)
    assert not split, f"words split across lines at {width} columns: {sorted(split)}"
    for stat in ("normalized_entropy", "logit_saturation", "degenerate_list_share"):
        assert stat in words(text), stat


def test_repeated_violations_are_one_entry_of_a_few_lines(tmp_path: Path) -> None:
    text = rendered(write_log(tmp_path / "run.jsonl"), 80)
    block = text[text.index("violations (35)") :].split("\n\n", 1)[0].splitlines()
    assert len(block) <= 6, "\n".join(block)  # heading, one entry line, its wrapped message
    assert sum("attention_entropy at" in line for line in block) == 1
    assert f"attention_entropy at {SITE}, steps 5..39 (35x)" in text
    assert "value 0.01, bound 0.1" in text
    assert "step 5, site" not in text and "(value 0.01" not in text  # not said twice
    assert not any(line.startswith(" ") and line.strip() == "" for line in block[:1])


def test_clean_message() -> None:
    assert clean_message(MESSAGE.format(step=3)).startswith("normalised attention entropy")
    assert clean_message(" two  spaces\n") == "two spaces"
    assert clean_message("no prefix (value in words)") == "no prefix (value in words)"


def test_nan_loss_is_named_not_hidden(tmp_path: Path) -> None:
    log = read_run_log(write_log(tmp_path / "run.jsonl", steps=10, nan_at=7))
    line = verdict(log)
    assert "loss 8.884 -> nan (not finite from step 7; last finite 8.284 at step 6)" in line
    text = rendered(tmp_path / "run.jsonl", 200)
    loss_row = next(row for row in text.splitlines() if row.startswith("| loss "))
    assert "nan" in loss_row


def test_healthy_log_has_no_violation_block(tmp_path: Path) -> None:
    text = rendered(write_log(tmp_path / "run.jsonl", steps=4, collapse_at=99), 80)
    assert "violations (" not in text and "no violations in 4 sampled steps" in text


# ---------------------------------------------------------------- plot


def test_plot_title_and_nan_marks(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from attnlint.report.plot import build_figure

    one = read_run_log(write_log(tmp_path / "one.jsonl", steps=6, collapse_at=5))
    fig = build_figure(one)
    assert fig._suptitle.get_text().endswith("· 1 violation")  # not "1 violations"

    def marks(figure: object) -> list[tuple[float, float]]:
        return [
            (p.get_x(), p.get_x() + p.get_width())
            for ax in figure.axes  # type: ignore[attr-defined]
            for p in ax.patches
            if p.get_gid() == "nonfinite-step"
        ]

    assert not marks(fig)
    nan = read_run_log(write_log(tmp_path / "nan.jsonl", steps=10, nan_at=6))
    fig = build_figure(nan)
    assert "NaN/inf from step 6" in fig._suptitle.get_text()
    spans = marks(fig)
    assert spans and set(spans) == {(5.5, 9.5)}  # steps 6..9 as one block, in every panel


def test_plot_help_names_the_diagnostics(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["plot", "--help"])
    out = capsys.readouterr().out
    assert "seed" not in out.lower()
    assert "entropy" in out and "effective" in out


# ---------------------------------------------------------------- rule and docs pages


def test_rule_page_is_rendered_without_test_markers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rule", "AL101"]) == 0
    out = capsys.readouterr().out
    assert "```" not in out and "# error:" not in out
    assert "python fires" not in out and "python silent" not in out
    assert "## " not in out  # headings rendered, not shown as markdown
    assert "torch.optim.Adam(model.parameters(), lr=1e-3)" in out
    assert "# with flag-constants=true" in out  # the option an example runs with is said


def test_docs_lists_and_shows_the_guides(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["docs"]) == 0
    listing = capsys.readouterr().out
    for name in ("attention-collapse", "guard", "integrations", "linting"):
        assert name in listing
    assert main(["docs", "attention-collapse"]) == 0
    out = capsys.readouterr().out
    assert "Attention collapse" in out and "<!--" not in out
    assert main(["docs", "docs/guard.md"]) == 0  # the path a README link shows works too
    assert "The runtime guard" in capsys.readouterr().out
    assert main(["docs", "AL103"]) == 0
    assert "unlogged-grad-clip" in capsys.readouterr().out


def test_unknown_guide_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["docs", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "attention-collapse" in err


def test_docs_command_is_on_the_torch_free_path() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from attnlint.cli import main; main(['docs', 'guard']); "
        "print(any(m in sys.modules for m in ('torch', 'pydantic', 'libcst')), file=sys.stderr)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stderr.strip().splitlines()[-1] == "False"


# ---------------------------------------------------------------- the demo


@pytest.mark.parametrize("width", [80, 200])
def test_demo_reads_well_at_80_and_200_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], width: int
) -> None:
    pytest.importorskip("torch")
    monkeypatch.setenv("COLUMNS", str(width))
    assert main(["demo", "--collapse", "--out", str(tmp_path), "--steps", "12", "--no-plot"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "", "the report lists the violations: nothing on stderr before it"
    out = captured.out
    assert "…" not in out
    assert max(len(line) for line in out.splitlines()) <= width
    assert re.search(r"attention_entropy at \S+, steps \d+\.\.11 \(\d+x\)", out)
    assert len(SITES) == 3  # the shared fixtures are still importable alongside


def test_wheel_ships_the_guides_and_docs_works_from_it(tmp_path: Path, built_wheel: Path) -> None:
    """A pip user has no docs/ folder: the guides travel in the wheel (attnlint/guides)."""
    import subprocess
    import sys
    import zipfile

    repo = Path(__file__).resolve().parent.parent
    wheel = built_wheel
    names = set(zipfile.ZipFile(wheel).namelist())
    guides = sorted(p.name for p in (repo / "docs").glob("*.md"))
    assert {f"attnlint/guides/{name}" for name in guides} <= names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)  # no checkout beside it: only the wheel's files
    env = {"PYTHONPATH": str(site), "COLUMNS": "80"}
    code = (
        "import attnlint, sys; from attnlint.cli import main; "
        "print(attnlint.__file__, file=sys.stderr); main(['docs', 'attention-collapse'])"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stderr.startswith(str(site)), "the wheel's copy was not the one imported"
    assert "Attention collapse" in shown.stdout


def test_guard_hints_name_pages_that_ship() -> None:
    """A violation's hint must work for a pip user: `attnlint docs NAME` / `attnlint rule
    CODE` of a page that exists, never a path into the source checkout."""
    import ast

    from attnlint.lint.pages import guides, rule_page

    root = Path(__file__).resolve().parent.parent / "attnlint" / "guard"
    docstrings: set[int] = set()
    named: list[tuple[str, str]] = []
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                docstrings.add(id(node.value))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if id(node) in docstrings:
                    continue
                where = f"{path.name}:{node.lineno}"
                assert not re.search(r"docs/[\w-]+\.md", node.value), f"{where}: {node.value!r}"
                named += [(where, m) for m in re.findall(r"attnlint docs ([\w-]+)", node.value)]
                for code in re.findall(r"attnlint rule (AL\d{3})", node.value):
                    assert rule_page(code) is not None, f"{where}: no page for {code}"
    assert named, "no hint names a guide any more"
    for where, name in named:
        assert name in guides(), f"{where}: no guide {name!r}"


def test_links_between_pages_become_the_commands_that_show_them() -> None:
    from attnlint.lint.pages import for_reading

    text = for_reading("see [guard.md](guard.md), [the rule](../rules/AL101.md), [x](y.md)")
    assert text == "see `attnlint docs guard`, the rule (`attnlint rule AL101`), x"
