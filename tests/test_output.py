"""Output formats: exact shapes other tools read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from attnlint.lint import output
from attnlint.lint.diagnostic import Diagnostic, Fix


def _diag(code: str = "AL101", **kw: object) -> Diagnostic:
    base: dict[str, object] = dict(
        code=code, message="lr hard-coded", path="src/t.py", line=2, column=5, end_line=2,
        end_column=9,
    )  # fmt: skip
    base.update(kw)
    return Diagnostic(**base)  # type: ignore[arg-type]


def test_sarif_is_valid_2_1_0_shape() -> None:
    log = json.loads(output.sarif([_diag(), _diag("AL103", line=7, end_line=8)]))
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "attnlint" and driver["version"]
    ids = [rule["id"] for rule in driver["rules"]]
    assert len(ids) == len(set(ids))
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"]
        # the rule's page travels with the log, headed by its code and name
        assert rule["help"]["markdown"].startswith(f"# {rule['id']}: {rule['name']}")
    for result in run["results"]:
        # ruleIndex must point at the rule with the same id.
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in {"none", "note", "warning", "error"}
        assert result["message"]["text"]
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"] == "src/t.py"
        region = location["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1
        assert (region["endLine"], region["endColumn"]) >= (
            region["startLine"],
            region["startColumn"],
        )
    assert run["results"][1]["locations"][0]["physicalLocation"]["region"]["endLine"] == 8


def test_sarif_windows_like_path_uses_forward_slashes() -> None:
    log = json.loads(output.sarif([_diag(path="src/sub/t.py")]))
    uri = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert uri["uri"] == "src/sub/t.py"


def test_github_annotation_and_escaping() -> None:
    text = output.github([_diag(message="50% of rows: NaN\nsee docs", path="a,b:c.py")])
    assert text == (
        "::error file=a%2Cb%3Ac.py,line=2,col=5,endLine=2,endColumn=9,title=AL101"
        "::AL101 50%25 of rows: NaN%0Asee docs\n"
    )


def test_concise_and_fixable_marker() -> None:
    fixable = _diag(fix=Fix("use cfg", ()))
    unsafe = _diag(line=3, fix=Fix("use cfg", (), "unsafe"))
    assert output.concise([_diag(), fixable, unsafe]) == (
        "src/t.py:2:5: AL101 lr hard-coded\n"
        "src/t.py:2:5: AL101 [*] lr hard-coded\n"
        "src/t.py:3:5: AL101 lr hard-coded\n"
    )
    text = output.summary([_diag(), fixable, unsafe])
    assert "Found 3 errors." in text
    assert (
        "[*] 1 fixable" in text
        and "1 more fixable with `attnlint check --fix --unsafe-fixes`" in text
    )


def test_full_marks_span_and_multiline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.py").write_text("x = 1\nopt = f(\n    a)\n")
    one = _diag(path="t.py", line=2, column=7, end_line=2, end_column=9)
    many = _diag(path="t.py", line=2, column=7, end_line=3, end_column=6)
    lines = output.full([one, many]).splitlines()
    assert lines[2] == "2 | opt = f("
    assert lines[3] == "  |       ^^"
    assert lines[9] == "  |       ^^"  # multi-line: underlined to the end of the first line
    colored = output.full([one], color=True)
    assert "\x1b[" in colored


def test_json_contract_is_one_based() -> None:
    (item,) = json.loads(output.as_json([_diag()]))
    assert item["line"] == 2 and item["column"] == 5 and item["fixable"] is False


def test_statistics_sorted_by_count() -> None:
    found = [_diag("AL103"), _diag("AL101"), _diag("AL101", fix=Fix("x", ()))]
    assert output.statistics(found).splitlines() == [
        "2\tAL101\thardcoded-learning-rate  [*]",
        "1\tAL103\tunlogged-grad-clip",
    ]


def test_color_only_for_terminals(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert output.use_color(Tty())  # type: ignore[arg-type]
    monkeypatch.setenv("NO_COLOR", "1")
    assert not output.use_color(Tty())  # type: ignore[arg-type]


def test_notebook_cell_in_every_format() -> None:
    cell = _diag(path="nb.ipynb", cell=3)
    plain = _diag()
    assert output.concise([cell]).startswith("nb.ipynb:cell 3:2:5: AL101 ")
    assert output.concise([plain]).startswith("src/t.py:2:5: AL101 ")
    assert output.concise([cell], color=True).startswith("\x1b[1mnb.ipynb\x1b[0m:cell 3:2:5:")
    row = json.loads(output.as_json([cell, plain]))
    assert [(r["path"], r["cell"], r["line"], r["column"]) for r in row] == [
        ("nb.ipynb", 3, 2, 5),
        ("src/t.py", None, 2, 5),
    ]
    assert "::nb.ipynb:cell 3:2:5: AL101 lr" in output.github([cell])
    assert "::AL101 lr" in output.github([plain])
    result = json.loads(output.sarif([cell]))["runs"][0]["results"][0]
    assert result["properties"] == {"cell": 3}
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 2


def test_summary_never_says_all_passed_after_a_failure() -> None:
    assert output.summary([]) == "All checks passed!\n"
    text = output.summary([], failed=2)
    assert "All checks passed!" not in text and "2 files could not be read or written" in text
    assert output.summary([_diag()], failed=1).endswith("Found 1 error.\n")


def test_full_splits_lines_as_the_engine_counts_them(tmp_path: Path) -> None:
    from attnlint.lint.engine import NEWLINE

    assert output.NEWLINE.pattern == NEWLINE.pattern
    # \f and \x1c are no line breaks for libcst (str.splitlines would count them)
    (tmp_path / "t.py").write_text("a = 1\f\x1c\r\nopt = x\rlr = 2\n", newline="")
    text = output.full([_diag(path=str(tmp_path / "t.py"), line=3, column=1, end_column=3)])
    assert "3 | lr = 2\n" in text


def test_a_cached_run_prints_full_output_without_loading_the_parser(tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "train.py").write_text("import torch\nopt = torch.optim.Adam(p, lr=1e-3)\n")
    code = (
        "import sys\nfrom attnlint.cli import main\nrc = main(['check', 'train.py'])\n"
        "print('LOADED', 'libcst' in sys.modules, 'attnlint.lint.engine' in sys.modules)\n"
        "raise SystemExit(rc)\n"
    )
    runs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
        for _ in range(2)  # the first fills the cache, the second only prints
    ]
    assert all(run.returncode == 1 for run in runs), runs[-1].stderr
    assert "LOADED True True" in runs[0].stdout
    assert "LOADED False False" in runs[1].stdout
    assert "2 | opt = torch.optim.Adam(p, lr=1e-3)" in runs[1].stdout  # the source line
