"""The engine's parse: libcst's tree without the per-node checks, which stay on elsewhere;
and the collector paused for one file only."""

from __future__ import annotations

import gc

import libcst as cst
import pytest

from attnlint.lint.engine import analyse
from attnlint.lint.parsing import collector_paused, parse_module

SOURCE = (
    "import torch\n\n@dec\nclass A(B):\n    def f(self, x: int = 1) -> None:\n"
    "        y = (1,\n  2)  # c\n        return f'{x!r:>{y}}' if x else [z for z in y]\n"
)


def test_same_tree_as_libcst() -> None:
    ours, theirs = parse_module(SOURCE), cst.parse_module(SOURCE)
    assert ours.code == SOURCE
    assert ours.deep_equals(theirs)


def test_node_checks_stay_on_outside_the_parse() -> None:
    parse_module(SOURCE)
    with pytest.raises(cst.CSTValidationError):
        cst.Name("not a name")
    with pytest.raises(cst.ParserSyntaxError):
        parse_module("def f(:\n")
    with pytest.raises(cst.CSTValidationError):  # also after a parse that failed
        cst.Name("1x")


def test_collector_paused_restores_what_it_found() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner block does not switch it on early
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # off before, off after
    finally:
        gc.enable()


def test_analyse_pauses_the_collector_and_switches_it_back_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[bool] = []
    real = cst.parse_module

    def spying(text: str) -> cst.Module:
        seen.append(gc.isenabled())
        return real(text)

    monkeypatch.setattr(cst, "parse_module", spying)
    found = analyse("import torch\nopt = torch.optim.SGD(p, lr=0.1)\n", "t.py").diagnostics
    assert [d.code for d in found] == ["AL101"]
    assert seen == [False] and gc.isenabled()
    with pytest.raises(ZeroDivisionError):
        monkeypatch.setattr(cst, "parse_module", lambda text: 1 / 0)
        analyse("import torch\nopt = torch.optim.SGD(p, lr=0.1)\n", "t.py")
    assert gc.isenabled()
