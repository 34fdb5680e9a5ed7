"""Which files the main process parses itself, and the crash isolation of the others."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from attnlint.lint import engine, isolation, runner, workers
from attnlint.lint.engine import select_rules
from attnlint.lint.isolation import summarise, why_isolated
from attnlint.lint.runner import Job, PerFileIgnores, run

REPO = Path(__file__).resolve().parent.parent
BAD = "import torch\nopt = torch.optim.Adam(params, lr=1e-3)\n"
CRASH = "# attnlint-test: crash the worker\n"
# CPython compiles each of these (it gives up near 3,000 levels); they nest 1,500 deep.
DEEP = {
    "attribute": "x = a" + ".b" * 1500 + "\n",
    "calls": "x = f" + "()" * 1500 + "\n",
    "sum": "x = " + "+".join(["1"] * 1500) + "\n",
    "unary": "x = " + "-" * 1500 + "1\n",
    "sum_over_lines": "x = (\n" + "".join("    1 +\n" for _ in range(1500)) + "    1)\n",
    "continued": "x = 1" + " \\\n + 1" * 1500 + "\n",
    "strings": "x = (\n" + "".join("    'a'\n" for _ in range(1500)) + ")\n",
    "fstring": "x = f'{" + "a." * 600 + "b}'\n",
    "elif": "if a:\n    pass\n" + "elif a:\n    pass\n" * 400,
}


def _job(root: Path, **kw: object) -> Job:
    codes = ["AL000", "AL001", *(rule.code for rule in select_rules())]
    return Job(codes=codes, options={}, per_file=PerFileIgnores(root), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(DEEP))
def test_deep_nesting_goes_to_a_worker(name: str) -> None:
    data = DEEP[name].encode()
    compile(data, "m.py", "exec", dont_inherit=True)  # valid Python: libcst would see it
    assert why_isolated(Path("m.py"), data) is not None


def test_the_same_constructs_shallow_are_plain() -> None:
    shallow = DEEP["sum_over_lines"].replace("    1 +\n" * 1500, "    1 +\n" * 50)
    assert why_isolated(Path("m.py"), shallow.encode()) is None
    assert why_isolated(Path("m.py"), ("x = a" + ".b" * 100 + "\n").encode()) is None
    # long but flat: a comma ends a stretch
    table = "x = [\n" + "".join(f"    {i},\n" for i in range(5000)) + "]\n"
    assert why_isolated(Path("m.py"), table.encode()) is None
    # a long docstring is one token
    doc = '"""' + "a line of words in a docstring\n" * 200 + '"""\nx = 1\n'
    assert why_isolated(Path("m.py"), doc.encode()) is None


def test_project_sources_are_plain() -> None:
    files = sorted((REPO / "attnlint").rglob("*.py")) + sorted((REPO / "examples").rglob("*.py"))
    assert len(files) > 50
    isolated = {f.name: why_isolated(f, f.read_bytes()) for f in files}
    assert {name: why for name, why in isolated.items() if why} == {}


def test_other_reasons() -> None:
    assert why_isolated(Path("n.ipynb"), b"{}") == "a notebook"
    assert why_isolated(Path("m.py"), b"x = 1  # " + b"c" * 3000 + b"\n") == "a long line"
    # brackets that do not balance: CPython rejects the file, libcst never reads it
    assert why_isolated(Path("m.py"), b"x = (1,\n") is None
    assert why_isolated(Path("m.py"), b"x = 1)\n") is None
    big = b"x = 1\n" * (isolation.MAX_BYTES // 6 + 1)
    assert why_isolated(Path("m.py"), big) == "a large file"


@pytest.mark.skipif(sys.version_info < (3, 12), reason="f-strings nest quotes from 3.12")
def test_a_misread_literal_is_not_plain() -> None:
    misread = b'x = f"{"("}"\n'  # the scan takes the inner quotes for the string's end
    compile(misread, "m.py", "exec")
    assert why_isolated(Path("m.py"), misread) == "unbalanced brackets"


def _crash_on_marker(monkeypatch: pytest.MonkeyPatch) -> None:
    real = engine.analyse

    def analyse_or_die(source: str, *args: object, **kw: object) -> object:
        if CRASH in source:
            os.kill(os.getpid(), signal.SIGSEGV)
        return real(source, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "analyse", analyse_or_die)


def _count_workers(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    started: list[int] = []
    real = workers.Supervisor.run

    def spy(self, items):  # type: ignore[no-untyped-def]
        started.append(len(items))
        return real(self, items)

    monkeypatch.setattr(workers.Supervisor, "run", spy)
    return started


def test_a_crash_on_a_deep_file_costs_that_file(tmp_path: Path, monkeypatch) -> None:
    _crash_on_marker(monkeypatch)
    started = _count_workers(monkeypatch)
    (tmp_path / "deep.py").write_text(CRASH + BAD + DEEP["unary"])
    (tmp_path / "plain.py").write_text(BAD)
    files = [tmp_path / "deep.py", tmp_path / "plain.py"]
    result = run(files, _job(tmp_path), None, cwd=tmp_path)
    assert started == [1]  # only the deep file went to a worker
    found = {d.path: d for d in result.diagnostics}
    assert found["plain.py"].code == "AL101"
    assert found["deep.py"].code == "AL001" and "signal 11" in found["deep.py"].message


SAMPLES = {
    "finding.py": BAD,
    "clean.py": "x = 1\n",
    "broken.py": "def f(:\n" + BAD,
    "latin1.py": "# -*- coding: latin-1 -*-\n# caf\xe9\n" + BAD,
    "fixable.py": (
        "import torch\ndef f(s, m):\n    return s.masked_fill(m, float('-inf')).softmax(-1)\n"
    ),
    "cross.py": "from helper import make\nimport torch\nopt = torch.optim.Adam(p, lr=make())\n",
    "helper.py": "def make():\n    return 1e-3\n",
}


@pytest.mark.parametrize("mode", ["check", "diff"])
def test_in_process_and_worker_agree(tmp_path: Path, monkeypatch, mode: str) -> None:
    for name, text in SAMPLES.items():
        encoding = "latin-1" if name == "latin1.py" else "utf-8"
        (tmp_path / name).write_bytes(text.encode(encoding))
    files = sorted(tmp_path.glob("*.py"))
    started = _count_workers(monkeypatch)
    here = run(files, _job(tmp_path, mode=mode), None, cwd=tmp_path)
    assert started == []
    monkeypatch.setattr(runner, "why_isolated", lambda path, data: "forced")
    there = run(files, _job(tmp_path, mode=mode), None, cwd=tmp_path)
    assert started == [len(files)]
    assert [d.to_json() for d in here.diagnostics] == [d.to_json() for d in there.diagnostics]
    assert here.diffs == there.diffs and here.errors == there.errors
    assert {d.code for d in here.diagnostics} >= {"AL000", "AL101", "AL402"}


def test_summaries_of_imported_modules_follow_the_same_rule(tmp_path: Path, monkeypatch) -> None:
    job = _job(tmp_path)
    started = _count_workers(monkeypatch)
    source = b"def make(model):\n    return model.config.hidden_size\n"
    plain = summarise(tmp_path / "m.py", source, job)
    assert started == [] and plain is not None and "make" in str(plain)
    monkeypatch.setattr(isolation, "why_isolated", lambda path, data: "forced")
    assert summarise(tmp_path / "m.py", source, job) == plain
    assert started == [1]
    _crash_on_marker(monkeypatch)
    assert summarise(tmp_path / "m.py", CRASH.encode() + source, job) is None  # no summary
    assert summarise(tmp_path / "m.py", b"# coding: no-such-codec\nx = 1\n", job) is None


def test_an_imported_module_that_crashes_the_parser_only_loses_its_summary(
    tmp_path: Path, monkeypatch
) -> None:
    """The project index reads a module only an import reaches (not a checked file): a
    crash while parsing it costs the cross-module finding, never the run."""
    clip = (
        "import torch\n\n\ndef clip(model):\n"
        "    return torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n"
    )
    train = (
        "from helper import clip\n\n\ndef train(model, opt, loss):\n"
        "    loss.backward()\n    clip(model)\n    opt.step()\n"
    )
    (tmp_path / "train.py").write_text(train + BAD)
    (tmp_path / "helper.py").write_text(clip)
    found = run([tmp_path / "train.py"], _job(tmp_path), None, cwd=tmp_path).diagnostics
    assert sorted(d.code for d in found) == ["AL101", "AL103"]  # the norm dropped one call up
    _crash_on_marker(monkeypatch)
    started = _count_workers(monkeypatch)
    (tmp_path / "helper.py").write_text(CRASH + clip + DEEP["unary"])
    result = run([tmp_path / "train.py"], _job(tmp_path), None, cwd=tmp_path)
    assert started == [1]  # the deep helper was parsed in a worker, which crashed
    assert result.errors == []
    assert [d.code for d in result.diagnostics] == ["AL101"]  # only the helper's finding lost
