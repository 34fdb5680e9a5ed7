"""Whole training projects, written the way different people write them, checked the way
a user checks one: ``attnlint check --output-format json --no-cache`` from the project's
root, findings compared (path, line, code) with the project's ``expected.txt``.

Each project under ``tests/projects/`` plants the defects of the project-index rules
(AL103, AL201, AL301, AL302, AL401, AL402) in varied spellings, several one call (or one
module) away from where they show, next to correct look-alikes that must stay silent.
``expected.txt`` lists one finding per line as ``path:line: CODE``; a project's look-alikes
are the lines it does not list. The projects are copied out of ``tests/`` first: the
repository's configuration silences findings under ``tests/``, a user's would not.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from attnlint.cli import main

PROJECTS = Path(__file__).resolve().parent / "projects"
CODES = ("AL103", "AL201", "AL301", "AL302", "AL401", "AL402")
_ROW = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+): (?P<code>AL\d{3})$")


def expected(project: Path) -> set[tuple[str, int, str]]:
    rows: set[tuple[str, int, str]] = set()
    for text in (project / "expected.txt").read_text(encoding="utf-8").splitlines():
        match = _ROW.match(text)
        assert match is not None, f"{project.name}/expected.txt: bad row {text!r}"
        rows.add((match["path"], int(match["line"]), match["code"]))
    return rows


def check(root: Path, capsys: pytest.CaptureFixture[str], *paths: str) -> set[tuple[str, int, str]]:
    argv = ["check", "--output-format", "json", "--no-cache", "--exit-zero"]
    code = main([*argv, "--select", ",".join(CODES), *(paths or (".",))])
    out, err = capsys.readouterr()
    assert code == 0, err
    return {(d["path"], d["line"], d["code"]) for d in json.loads(out)}


@pytest.fixture
def copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    def make(name: str) -> Path:
        root = tmp_path / name
        shutil.copytree(PROJECTS / name, root, ignore=shutil.ignore_patterns("expected.txt"))
        # A configuration of its own: the search for one stops here, as in a real project.
        (root / "pyproject.toml").write_text("[tool.attnlint]\n", encoding="utf-8")
        monkeypatch.chdir(root)
        return root

    return make


NAMES = sorted(p.name for p in PROJECTS.iterdir() if (p / "expected.txt").is_file())


@pytest.mark.parametrize("name", NAMES)
def test_project_findings(name: str, copy, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    copy(name)
    want = expected(PROJECTS / name)
    got = check(Path.cwd(), capsys)
    assert sorted(got - want) == [], "unexpected findings"
    assert sorted(want - got) == [], "missed findings"


def test_every_rule_is_planted_and_projects_are_many() -> None:
    """The projects exercise each rule more than once, across enough projects that one
    author's habits do not decide the result."""
    codes = [code for name in NAMES for _, _, code in expected(PROJECTS / name)]
    assert len(NAMES) >= 6
    assert all(codes.count(code) >= 3 for code in CODES), codes


def line_of(path: str, text: str) -> int:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if text in line)


def test_helper_file_not_checked_moves_the_finding_to_the_call(copy, capsys) -> None:  # type: ignore[no-untyped-def]
    """Pre-commit passes only the changed file: with the loss helpers' file left out, the
    scrub's finding is at the call that hands them the scores, in the checked file."""
    copy("set_ranking")
    whole = check(Path.cwd(), capsys)
    alone = check(Path.cwd(), capsys, "train.py")
    scrub = ("setrank/losses.py", line_of("setrank/losses.py", "torch.nan_to_num(scores"), "AL301")
    call = ("train.py", line_of("train.py", "losses.soft_rank("), "AL301")
    assert scrub in whole and call not in whole
    assert call in alone and scrub not in alone


def test_a_scaling_caller_in_another_module_silences_the_helper(copy, capsys) -> None:  # type: ignore[no-untyped-def]
    """``attend`` is unscaled as written; only its caller in models/transformer.py scales
    q. Checked alone it is judged as written; checked with its caller it is silent."""
    copy("plain_loop")
    softmax = ("utils/attention.py", line_of("utils/attention.py", "torch.softmax(scores"), "AL401")
    assert softmax in check(Path.cwd(), capsys, "utils/attention.py")
    assert softmax not in check(Path.cwd(), capsys, "utils/attention.py", "models/transformer.py")
