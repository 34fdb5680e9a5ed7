"""The read-only walker: same nodes, same order as the plain isinstance definition, and a
linear amount of work for the whole lint of a large module."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import libcst as cst
import pytest

from attnlint.lint import helpers, walk
from attnlint.lint.engine import analyse

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "train_deepsetrank.py"

SOURCES = [
    "import torch\n\n@dec\nclass A(B, metaclass=M):\n"
    "    def f(self, x: int = 1, *a, k, **kw) -> None:\n"
    "        if x:\n            y = (1,\n  2)  # c\n        elif z: pass\n        else: pass\n"
    "        return [i for i in y if i] or {k: v for k, v in kw.items()}\n",
    "async def g():\n    async with a as (b, c):\n        await d\n    async for e in f:\n"
    "        yield e\n    z = lambda q, *, r=1: q if r else -q\n    del z[0], w.x\n",
    "try:\n    import a.b as c\nexcept (E, F) as err:\n    from . import x\nelse:\n    pass\n"
    "finally:\n    global g\nmatch p:\n"
    "    case [1, *rest] | {'k': v} if v:\n        t = f'{x!r:>{w}}'\n",
    "x: int = 1; y += 2; print(*a, **k)\nwhile (n := n - 1) > 0: break\n",
]


def _reference_children(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    # The definition the fast walker must agree with: isinstance on every field value.
    for name in walk._child_fields(type(node)):
        value = getattr(node, name)
        if isinstance(value, cst.CSTNode):
            yield value
        elif isinstance(value, tuple | list):
            yield from (item for item in value if isinstance(item, cst.CSTNode))


def _reference_walk(
    node: cst.CSTNode, prune: tuple[type[cst.CSTNode], ...] = ()
) -> Iterator[cst.CSTNode]:
    yield node
    for child in _reference_children(node):
        if isinstance(child, prune):
            yield child
        else:
            yield from _reference_walk(child, prune)


def _modules() -> list[cst.Module]:
    return [cst.parse_module(s) for s in [*SOURCES, EXAMPLE.read_text(encoding="utf-8")]]


@pytest.mark.parametrize("module", _modules())
def test_walk_and_children_match_the_isinstance_definition(module: cst.Module) -> None:
    every = list(_reference_walk(module))
    assert len(every) > 20
    assert list(walk.walk(module)) == every
    for node in every:
        assert list(walk.children(node)) == list(_reference_children(node))
    prune = (cst.FunctionDef, cst.Lambda, cst.BaseSmallStatement)  # an abstract class too
    for node in every:
        assert list(walk.walk(node, prune)) == list(_reference_walk(node, prune))


def test_walk_skips_trivia_and_keeps_source_order() -> None:
    module = cst.parse_module("def f(a, b=(1)):  # c\n    return a\n")
    kinds = [type(n).__name__ for n in walk.walk(module)]
    assert "Comma" not in kinds and "TrailingWhitespace" not in kinds
    assert "LeftParen" not in kinds and "Newline" not in kinds
    names = [n.value for n in walk.walk(module) if isinstance(n, cst.Name)]
    assert names == ["f", "a", "b", "a"]


class _Recorder(cst.BatchableCSTVisitor):
    def __init__(self, events: list[tuple[str, str]]) -> None:
        super().__init__()
        self.events = events

    def visit_Name(self, node: cst.Name) -> None:
        self.events.append(("visit", node.value))

    def leave_Name(self, node: cst.Name) -> None:
        self.events.append(("leave", node.value))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.events.append(("visit", f"def {node.name.value}"))

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.events.append(("leave", f"def {node.name.value}"))

    def visit_Call(self, node: cst.Call) -> None:
        self.events.append(("visit", "call"))


@pytest.mark.parametrize("module", _modules())
def test_visit_batched_calls_hooks_in_tree_order(module: cst.Module) -> None:
    expected: list[tuple[str, str]] = []

    def reference(node: cst.CSTNode) -> None:
        if isinstance(node, cst.Name):
            expected.append(("visit", node.value))
        elif isinstance(node, cst.FunctionDef):
            expected.append(("visit", f"def {node.name.value}"))
        elif isinstance(node, cst.Call):
            expected.append(("visit", "call"))
        for child in _reference_children(node):
            reference(child)
        if isinstance(node, cst.Name):
            expected.append(("leave", node.value))
        elif isinstance(node, cst.FunctionDef):
            expected.append(("leave", f"def {node.name.value}"))

    reference(module)
    first: list[tuple[str, str]] = []
    second: list[tuple[str, str]] = []
    walk.visit_batched(module, [_Recorder(first), _Recorder(second)])
    assert first == expected and second == expected


def test_type_table_decides_once_per_class() -> None:
    asked: list[type] = []

    def decide(kind: type) -> bool:
        asked.append(kind)
        return issubclass(kind, cst.BaseExpression)

    table = walk.TypeTable(decide)
    nodes = list(walk.walk(cst.parse_module("a = b + c * d\n")))
    answers = [table[type(n)] for n in nodes]
    assert answers == [isinstance(n, cst.BaseExpression) for n in nodes]
    assert len(asked) == len({type(n) for n in nodes}) < len(nodes)


def _reference_read_names(node: cst.CSTNode) -> list[str]:
    if isinstance(node, cst.Name):
        return [node.value]
    parts: list[cst.CSTNode | None]
    if isinstance(node, cst.Attribute | cst.Arg):
        parts = [node.value]
    elif isinstance(node, cst.Param):
        parts = [node.default]
    elif isinstance(node, cst.FunctionDef):
        parts = [*node.decorators, node.params, node.body, node.returns]
    elif isinstance(node, cst.ClassDef):
        parts = [*node.decorators, *node.bases, *node.keywords, node.body]
    elif isinstance(node, cst.AssignTarget) and isinstance(node.target, cst.Name):
        parts = []
    elif isinstance(node, cst.AnnAssign):
        target = None if isinstance(node.target, cst.Name) else node.target
        parts = [target, node.annotation, node.value]
    else:
        parts = list(_reference_children(node))
    return [name for part in parts if part is not None for name in _reference_read_names(part)]


@pytest.mark.parametrize("module", _modules())
def test_read_names_matches_its_definition(module: cst.Module) -> None:
    for node in walk.walk(module):
        got = [n.value for n in helpers.read_names(node)]
        assert got == _reference_read_names(node)
    reads = {n.value for n in helpers.read_names(module)}
    assert reads <= helpers.names_in(module)


def test_read_names_leaves_out_bindings() -> None:
    module = cst.parse_module("def f(p=d) -> R:\n    x = p.attr\n    y: T = g(k=v)\n")
    assert sorted(n.value for n in helpers.read_names(module)) == ["R", "T", "d", "g", "p", "v"]


def _training_module(functions: int) -> str:
    block = (
        "\n\ndef train_{i}(model, loader):\n"
        "    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)\n"
        "    for batch in loader:\n"
        "        loss = model(batch).mean()\n"
        "        loss.backward()\n"
        "        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n"
        "        scores = torch.nan_to_num(model.scores(batch))\n"
        "        attn = torch.softmax(q @ k.transpose(-2, -1), dim=-1)\n"
        "        log.info('%s %s %s', loss.item(), scores.sum(), attn.mean())\n"
        "    return opt\n"
        "\n\nnorm_{i} = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n"
    )
    head = "import logging\nimport torch\n\nlog = logging.getLogger(__name__)\n"
    return head + "".join(block.format(i=i) for i in range(functions))


def test_lint_work_grows_linearly_with_the_module(monkeypatch: pytest.MonkeyPatch) -> None:
    # Counted, not timed: nodes expanded by every walk (the batched pass, the rules' own
    # searches, the per-scope facts) per function must not grow with the module's size.
    expanded = [0]
    real = walk.child_list

    def counting(node: cst.CSTNode) -> list[cst.CSTNode]:
        expanded[0] += 1
        return real(node)

    monkeypatch.setattr(walk, "child_list", counting)
    monkeypatch.setattr(helpers, "child_list", counting)
    per_size = {}
    for functions in (20, 80):
        expanded[0] = 0
        found = analyse(_training_module(functions), "train.py").diagnostics
        assert len(found) >= 4 * functions  # the findings scale with the module
        per_size[functions] = expanded[0] / functions
    assert per_size[80] <= per_size[20] * 1.1, per_size


@dataclasses.dataclass
class _NotANode:
    value: int = 0


def test_children_ignore_values_that_are_not_nodes() -> None:
    # A tuple of non-nodes (a libcst field can hold strings) yields nothing.
    call = cst.parse_expression("f(1)")
    assert isinstance(call, cst.Call)
    assert [type(n).__name__ for n in walk.children(call)] == ["Name", "Arg"]
    assert walk._KIND[type(_NotANode())] == 0
    assert walk._KIND[tuple] == walk._KIND[list] != walk._KIND[cst.Name]
