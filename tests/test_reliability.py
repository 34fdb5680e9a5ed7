"""Never a crash, never a hang, AL000 exactly when CPython's compile() says no.

Every verdict on syntax is checked against CPython itself (``compile`` of the same bytes
in this interpreter), never against a list of expected answers.
"""

from __future__ import annotations

import codecs
import os
import signal
import warnings
from pathlib import Path

import pytest

from attnlint.lint import engine
from attnlint.lint.engine import analyse, select_rules
from attnlint.lint.runner import Job, PerFileIgnores, decode, run

TRIGGERS = "import torch\ntorch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)\n"


def _cpython_rejects(data: bytes) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(data, "x.py", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return True
    return False


ODD = {
    "module_return": b"return 1\n",
    "module_break": b"break\n",
    "module_nonlocal": b"nonlocal x\n",
    "duplicate_args": b"def f(a, a):\n    pass\n",
    "bad_future": b"from __future__ import braces\n",
    "late_future": b"x = 1\nfrom __future__ import annotations\n",
    "except_comma": b"try:\n    pass\nexcept A, B:\n    pass\n",
    "bad_escape": b"x = '\\N{no such name}'\n",
    "type_alias": b"type X = int\n",
    "await_outside": b"await x\n",
    "yield_outside": b"yield 1\n",
    "deep_attribute": b"x = a" + b".b" * 3000 + b"\n",
    "long_sum": b"x = " + b"+".join([b"1"] * 5000) + b"\n",
    "deep_calls": b"x = f" + b"()" * 3000 + b"\n",
    "many_elifs": b"if a:\n    pass\n" + b"elif a:\n    pass\n" * 5000,
    "unary_run": b"x = " + b"-" * 5000 + b"1\n",
    "deep_parens": b"x = " + b"(" * 250 + b"1" + b")" * 250 + b"\n",
    "null_byte": b"x = 1\x00\n",
    "comment_ff": b"# \xff\nx = 1\n",
    "string_ff": b"x = '\xff'\n",
    "bom": b"\xef\xbb\xbfx = 1\n",
    "bom_and_latin1_cookie": b"\xef\xbb\xbf# coding: latin-1\nx = 1\n",
    "latin1_cookie": b"# -*- coding: latin-1 -*-\nx = '\xe9'\n",
    "unknown_cookie": b"# coding: no-such-codec\nx = 1\n",
    "form_feed": b"x = (1 +\n\x0c    2)\nif x:\n\x0c    pass\n",
    "paren_target": b"(x): int = 1\n",
    "tabs_and_spaces": b"if x:\n\tpass\n        pass\n",
    "ok": b"x = 1\n",
}


@pytest.mark.parametrize("triggers", [False, True], ids=["plain", "triggered"])
@pytest.mark.parametrize("name", sorted(ODD))
def test_al000_agrees_with_cpython(tmp_path: Path, name: str, triggers: bool) -> None:
    data = ODD[name]
    if triggers:  # after any cookie: the first two lines decide the encoding
        data = data + b"\n" + TRIGGERS.encode()
    (tmp_path / "m.py").write_bytes(data)
    result = run([tmp_path / "m.py"], _job(tmp_path), None, jobs=1, cwd=tmp_path)
    assert result.errors == []
    codes = [d.code for d in result.diagnostics]
    assert ("AL000" in codes) == _cpython_rejects(data), codes
    assert all("\n" not in d.message for d in result.diagnostics)


def test_valid_file_libcst_cannot_parse_is_al001_not_al000() -> None:
    found = analyse("(x): int = 1\n" + TRIGGERS, "m.py", check_syntax=True).diagnostics
    assert [d.code for d in found] == ["AL001"]
    assert "no rule checked" in found[0].message
    # without a trigger word libcst never reads it, so nothing went unchecked
    assert analyse("(x): int = 1\n", "m.py", check_syntax=True).diagnostics == []


def test_compile_runs_before_libcst(monkeypatch: pytest.MonkeyPatch) -> None:
    # Input CPython rejects never reaches libcst's native parser (deep input crashes it).
    def boom(*_: object, **__: object) -> None:
        raise AssertionError("libcst parsed a file CPython rejects")

    monkeypatch.setattr(engine.cst, "parse_module", boom)
    deep = "x = a" + ".b" * 20000 + "\n" + TRIGGERS
    assert [d.code for d in analyse(deep, "m.py").diagnostics] == ["AL000"]


def test_rule_recursion_is_al001(monkeypatch: pytest.MonkeyPatch) -> None:
    def deep(*_: object, **__: object) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(engine, "visit_batched", deep)
    found = analyse(TRIGGERS, "m.py").diagnostics
    assert [d.code for d in found] == ["AL001"]


def test_cookie_decides_even_when_bytes_are_valid_utf8() -> None:
    data = "# -*- coding: latin-1 -*-\nx = 'é'\n".encode()  # UTF-8 bytes, latin-1 cookie
    text, encoding = decode(data)
    assert codecs.lookup(encoding).name == "iso8859-1"
    assert text == data.decode("latin-1")
    assert decode(b"\xef\xbb\xbfx = 1\n") == ("x = 1\n", "utf-8-sig")


def _job(root: Path, **kw: object) -> Job:
    codes = ["AL000", "AL001", *(rule.code for rule in select_rules())]
    return Job(codes=codes, options={}, per_file=PerFileIgnores(root), **kw)  # type: ignore[arg-type]


BAD = "import torch\nopt = torch.optim.Adam(params, lr=1e-3)\n"
CRASH = "# attnlint-test: crash the worker\n"


def _crash_on_marker(monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    real = engine.analyse

    def analyse_or_die(source: str, *args: object, **kw: object) -> object:
        if CRASH in source:
            if how == "segfault":
                os.kill(os.getpid(), signal.SIGSEGV)
            raise RuntimeError("a bug in a rule")
        return real(source, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "analyse", analyse_or_die)


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_worker_segfault_costs_one_file(tmp_path: Path, monkeypatch, jobs: int) -> None:
    _crash_on_marker(monkeypatch, "segfault")
    for i in range(30):
        (tmp_path / f"m{i:02d}.py").write_text(CRASH + BAD if i in (3, 17) else BAD)
    files = sorted(tmp_path.glob("*.py"))
    result = run(files, _job(tmp_path), None, jobs=jobs, cwd=tmp_path)
    by_file = {d.path: d.code for d in result.diagnostics}
    assert len(by_file) == 30 and result.errors == []
    assert by_file.pop("m03.py") == by_file.pop("m17.py") == "AL001"
    assert set(by_file.values()) == {"AL101"}
    crashed = [d for d in result.diagnostics if d.code == "AL001"]
    assert all("crashed" in d.message and "signal 11" in d.message for d in crashed)


def test_an_internal_error_is_that_file_exit_2(project_dir: Path, monkeypatch, capsys) -> None:
    from attnlint.cli import main

    _crash_on_marker(monkeypatch, "raise")
    (project_dir / "a.py").write_text(BAD)
    (project_dir / "b.py").write_text(CRASH + BAD)
    code = main(["check", ".", "--no-cache", "--output-format", "concise"])
    out, err = capsys.readouterr()
    assert code == 2
    assert "a.py:2:" in out  # the other file is still reported
    assert err.count("\n") == 1 and "internal error" in err and "--verbose" in err
    main(["check", ".", "--no-cache", "--verbose"])
    assert "Traceback" in capsys.readouterr().err


@pytest.fixture
def project_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_per_scope_searches_run_once_per_scope_not_per_finding(monkeypatch) -> None:
    # Linear time: 200 findings in one module scope walk that scope once, not 200 times.
    from attnlint.lint import helpers

    calls: list[int] = []
    real = helpers.read_names

    def counting(node: object) -> object:
        calls.append(1)
        return real(node)  # type: ignore[arg-type]

    monkeypatch.setattr(helpers, "read_names", counting)
    lines = ["import logging", "import torch", "log = logging.getLogger(__name__)"]
    lines += [f"n{i} = torch.nn.utils.clip_grad_norm_(m.parameters(), c.clip)" for i in range(200)]
    found = analyse("\n".join(lines) + "\n", "train.py").diagnostics
    assert sum(d.code == "AL103" for d in found) == 200
    assert len(calls) <= 2
