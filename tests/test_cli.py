"""`attnlint check`, `attnlint rule`, `attnlint rules` as a user runs them."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from attnlint.cli import main

BAD = "import torch\nopt = torch.optim.Adam(params, lr=1e-3)\n"
GOOD = "import torch\nopt = torch.optim.Adam(params, lr=cfg.lr)\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "train.py").write_text(BAD)
    (tmp_path / "pkg" / "ok.py").write_text(GOOD)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_findings_exit_1_and_json_contract(project: Path, capsys) -> None:
    code, out, _ = run(capsys, "check", "pkg", "--output-format", "json", "--no-cache")
    assert code == 1
    found = json.loads(out)
    assert [(d["code"], d["path"], d["line"]) for d in found] == [("AL101", "pkg/train.py", 2)]
    keys = {"code", "message", "path", "line", "column", "end_line", "end_column", "fixable"}
    assert keys <= set(found[0])
    # 1-based columns spanning the literal `1e-3`.
    line = BAD.splitlines()[1]
    assert line[found[0]["column"] - 1 : found[0]["end_column"] - 1] == "1e-3"


def test_clean_exit_0(project: Path, capsys) -> None:
    code, out, _ = run(capsys, "check", "pkg/ok.py")
    assert code == 0
    assert "All checks passed!" in out


def test_exit_zero(project: Path, capsys) -> None:
    code, out, _ = run(capsys, "check", "pkg", "--exit-zero", "--output-format", "concise")
    assert code == 0
    assert "pkg/train.py:2:" in out


def test_full_format_shows_line_and_marker(project: Path, capsys) -> None:
    code, out, _ = run(capsys, "check", "pkg", "--no-cache")
    assert code == 1
    lines = out.splitlines()
    first = next(i for i, text in enumerate(lines) if text.startswith("pkg/train.py:2:"))
    assert "AL101" in lines[first]
    assert lines[first + 2] == "2 | opt = torch.optim.Adam(params, lr=1e-3)"
    caret = lines[first + 3]
    assert caret.index("^") - len("  | ") == BAD.splitlines()[1].index("1e-3")
    assert caret.count("^") == 4


def test_select_and_ignore(project: Path, capsys) -> None:
    assert run(capsys, "check", "pkg", "--ignore", "AL101")[0] == 0
    assert run(capsys, "check", "pkg", "--select", "AL102")[0] == 0
    assert run(capsys, "check", "pkg", "--select", "AL1")[0] == 1


def test_noqa(project: Path, capsys) -> None:
    (project / "pkg" / "train.py").write_text(BAD.replace("1e-3)", "1e-3)  # noqa: AL101"))
    assert run(capsys, "check", "pkg")[0] == 0
    (project / "pkg" / "train.py").write_text(BAD.replace("1e-3)", "1e-3)  # noqa: AL102"))
    assert run(capsys, "check", "pkg")[0] == 1
    (project / "pkg" / "train.py").write_text(BAD.replace("1e-3)", "1e-3)  # noqa"))
    assert run(capsys, "check", "pkg")[0] == 0


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["check", "nope/"], "nope"),
        (["check", "pkg", "--output-format", "xml"], "--output-format"),
        (["check", "pkg", "--jobs", "zero"], "--jobs"),
        (["check", "pkg", "--jobs", "0"], "--jobs"),
        (["check", "pkg", "--select", "AL999"], "AL999"),
        (["check", "pkg", "--config", "missing.toml"], "missing.toml"),
        (["check", "--frobnicate"], "--frobnicate"),
        (["rule", "AL999"], "AL999"),
        (["nonsense"], "nonsense"),
    ],
)
def test_bad_input_is_one_line_exit_2(project: Path, capsys, argv: list[str], needle: str) -> None:
    with pytest.raises(SystemExit) as raised:
        raise SystemExit(main(argv))
    assert raised.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert needle in err
    assert "Traceback" not in err


def test_unreadable_file_is_exit_2_not_a_traceback(
    project: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    # chmod 0 does not stop root (CI runs as root), so the refusal is made by the OS layer
    # the runner reads through (the forked worker inherits the patch).
    from attnlint.lint import runner

    target = (project / "pkg" / "train.py").resolve()
    real = runner.read_regular

    def refuse(path: Path) -> bytes:
        if Path(path).resolve() == target:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(runner, "read_regular", refuse)
    code, _, err = run(capsys, "check", "pkg", "--no-cache", "--jobs", "1")
    assert code == 2
    assert "train.py" in err and "Traceback" not in err


def test_unreadable_file_via_directory_entry(project: Path, capsys) -> None:
    # A dangling symlink named *.py: it exists in the listing but cannot be read.
    (project / "pkg" / "gone.py").symlink_to(project / "pkg" / "missing-target.py")
    code, _, err = run(capsys, "check", "pkg/gone.py", "pkg/ok.py", "--no-cache")
    assert code == 2
    assert "gone.py" in err and len(err.strip().splitlines()) == 1


def test_syntax_error_file_is_reported_and_others_still_checked(project: Path, capsys) -> None:
    (project / "pkg" / "broken.py").write_text("def f(:\n    pass\n")
    (project / "pkg" / "plain.py").write_text("x = [\n")  # no trigger word: compile() catches it
    code, out, _ = run(capsys, "check", "pkg", "--output-format", "json", "--no-cache")
    assert code == 1
    found = {(d["path"], d["code"]) for d in json.loads(out)}
    assert found == {
        ("pkg/broken.py", "AL000"),
        ("pkg/plain.py", "AL000"),
        ("pkg/train.py", "AL101"),
    }
    messages = [d["message"] for d in json.loads(out) if d["code"] == "AL000"]
    assert all("\n" not in m for m in messages)


def test_statistics(project: Path, capsys) -> None:
    (project / "pkg" / "more.py").write_text(BAD + BAD.splitlines()[1] + "\n")
    code, out, _ = run(capsys, "check", "pkg", "--statistics")
    assert code == 1
    assert out.split() == ["3", "AL101", "hardcoded-learning-rate"]


def test_fix_and_diff(project: Path, capsys, fixable_rule) -> None:
    target = project / "pkg" / "fixme.py"
    target.write_text("fixme(lr=0.1)\nfixme(lr=cfg.lr)\n")
    target.chmod(0o640)
    code, out, _ = run(capsys, "check", "pkg/fixme.py", "--select", "XX9", "--diff")
    assert code == 1
    assert out.startswith("--- pkg/fixme.py\n+++ pkg/fixme.py\n")
    assert "\n-fixme(lr=0.1)\n" in out and out.count("+fixme(lr=cfg.lr)") == 1
    assert target.read_text() == "fixme(lr=0.1)\nfixme(lr=cfg.lr)\n"  # --diff writes nothing
    code, out, _ = run(capsys, "check", "pkg/fixme.py", "--select", "XX9", "--fix")
    assert code == 0
    assert target.read_text() == "fixme(lr=cfg.lr)\nfixme(lr=cfg.lr)\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert not [p for p in target.parent.iterdir() if p.name.endswith(".tmp")]
    code, out, _ = run(capsys, "check", "pkg/fixme.py", "--select", "XX9", "--diff")
    assert code == 0
    assert out == ""


def test_fixable_marker_and_summary(project: Path, capsys, fixable_rule) -> None:
    (project / "pkg" / "fixme.py").write_text("fixme(lr=0.1)\n")
    code, out, _ = run(capsys, "check", "pkg/fixme.py", "--select", "XX9", "--no-cache")
    assert code == 1
    assert "XX901 [*] literal lr" in out
    assert "[*] 1 fixable with `attnlint check --fix`" in out


def test_rule_page_and_catalogue(capsys) -> None:
    code, out, _ = run(capsys, "rules", "--output-format", "json")
    assert code == 0
    rows = json.loads(out)
    assert {"AL101", "AL102", "AL103"} <= {row["code"] for row in rows}
    assert all(set(row) == {"code", "name", "summary", "fixable"} for row in rows)
    code, out, _ = run(capsys, "rule", "al101")
    assert code == 0
    assert out.lstrip().startswith("AL101: hardcoded-learning-rate")  # rendered, not markdown


def test_rules_table_lists_codes(capsys) -> None:
    code, out, _ = run(capsys, "rules")
    assert code == 0
    assert "AL101" in out and "hardcoded-learning-rate" in out


def test_console_entry_point_in_subprocess(project: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "attnlint.cli", "check", "pkg", "--output-format", "concise"],
        capture_output=True,
        text=True,
        cwd=project,
    )
    assert done.returncode == 1
    assert done.stdout.startswith("pkg/train.py:2:")
    assert "\x1b[" not in done.stdout  # piped output is plain


def test_cache_location(project: Path, capsys) -> None:
    (project / "pyproject.toml").write_text("[tool.attnlint]\n")
    assert run(capsys, "check", "pkg")[0] == 1
    assert list((project / ".attnlint_cache").glob("*.entries/*/*.json"))
    elsewhere = project / "elsewhere"
    assert run(capsys, "check", "pkg", "--cache-dir", str(elsewhere))[0] == 1
    assert list(elsewhere.glob("*.entries/*/*.json"))
    # warm run: same answer from the cache
    code, out, _ = run(capsys, "check", "pkg", "--output-format", "concise")
    assert code == 1 and out.startswith("pkg/train.py:2:")


def test_no_cache_writes_nothing(project: Path, capsys) -> None:
    (project / "pyproject.toml").write_text("[tool.attnlint]\n")
    assert run(capsys, "check", "pkg", "--no-cache")[0] == 1
    assert not (project / ".attnlint_cache").exists()
