"""Fix application, exercised with throwaway rules so that it does not depend on the catalogue."""

from __future__ import annotations

import libcst as cst
import pytest

from attnlint.lint.diagnostic import Edit, Fix
from attnlint.lint.engine import lint_source
from attnlint.lint.fixer import TextEdit, apply_fixes, apply_text_edits
from attnlint.lint.helpers import call_arg, is_number_literal
from attnlint.lint.rule import Rule


class LiteralLr(Rule):
    """``torch.optim.<X>(..., lr=<literal>)`` -> ``lr=cfg.lr`` (safe)."""

    code = "XX901"
    name = "test-literal-lr"
    summary = "literal lr"
    triggers = ("lr",)

    def visit_Call(self, node: cst.Call) -> None:
        name = self.context.qualname(node.func) or ""
        arg = call_arg(node, "lr", None)
        if name.startswith("torch.optim.") and arg is not None and is_number_literal(arg.value):
            fix = Fix("read lr from cfg", (Edit(arg.value, "cfg.lr"),))
            self.report(arg.value, "literal lr", fix)


class DiscardedNorm(Rule):
    """A bare ``clip(...)`` statement -> ``norm = clip(...)`` + ``log(norm)`` after it."""

    code = "XX902"
    name = "test-discarded-norm"
    summary = "discarded norm"
    triggers = ("clip",)

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        stmt = node.body[0]
        if (
            isinstance(stmt, cst.Expr)
            and isinstance(stmt.value, cst.Call)
            and self.context.qualname(stmt.value.func) == "clip"
        ):
            call = self.context.code_for(stmt.value)
            fix = Fix(
                "keep and log the norm",
                (Edit(stmt, f"norm = {call}"), Edit(node, "log(norm)", "insert_after")),
            )
            self.report(node, "norm discarded", fix)


class NeedsCheck(Rule):
    """``model = Net(dim)`` without ``check(dim)`` before it -> insert ``check(dim)`` (unsafe)."""

    code = "XX903"
    name = "test-needs-check"
    summary = "needs check"
    triggers = ("Net",)

    def visit_Module(self, node: cst.Module) -> None:
        self.checked = "check(dim)" in self.context.source

    def visit_Call(self, node: cst.Call) -> None:
        if self.context.qualname(node.func) == "Net" and not self.checked:
            self.report(
                node,
                "unchecked",
                Fix("check it", (Edit(node, "check(dim)", "insert_before"),), "unsafe"),
            )


class Breaks(Rule):
    """A fix that yields text which does not parse."""

    code = "XX904"
    name = "test-breaks"
    summary = "breaks"
    triggers = ("broken",)

    def visit_Name(self, node: cst.Name) -> None:
        if node.value == "broken":
            self.report(node, "broken", Fix("break it", (Edit(node, "broken(("),)))


class Rename(Rule):
    """``old`` -> ``new``; overlaps LiteralLr when both touch one node."""

    code = "XX905"
    name = "test-rename"
    summary = "rename"
    triggers = ("old",)

    def visit_Name(self, node: cst.Name) -> None:
        if node.value == "old":
            self.report(node, "old name", Fix("rename", (Edit(node, "new"),)))


def _parses(text: str) -> bool:
    try:
        cst.parse_module(text)
    except cst.ParserSyntaxError:
        return False
    return True


def test_replace_fix_applies_and_rule_stops_firing() -> None:
    src = "import torch.optim as o\nopt = o.Adam(p, lr=1e-3)\nsched = o.SGD(p, lr=-0.1)\n"
    result = apply_fixes(src, rules=[LiteralLr])
    assert (
        result.source
        == "import torch.optim as o\nopt = o.Adam(p, lr=cfg.lr)\nsched = o.SGD(p, lr=cfg.lr)\n"
    )
    assert result.applied == 2
    assert result.remaining == []
    assert lint_source(result.source, rules=[LiteralLr]) == []


def test_fixing_is_idempotent() -> None:
    src = (
        "import torch\nfor b in x:\n    clip(m.parameters(), 1.0)\n    torch.optim.Adam(p, lr=3)\n"
    )
    once = apply_fixes(src, rules=[LiteralLr, DiscardedNorm])
    twice = apply_fixes(once.source, rules=[LiteralLr, DiscardedNorm])
    assert once.applied == 2
    assert twice.source == once.source
    assert twice.applied == 0
    assert _parses(once.source)


def test_insert_after_keeps_indentation_and_replaces_statement() -> None:
    src = "def step():\n    if ok:\n        clip(params, 1.0)\n    return 1\n"
    result = apply_fixes(src, rules=[DiscardedNorm])
    assert result.source == (
        "def step():\n    if ok:\n        norm = clip(params, 1.0)\n"
        "        log(norm)\n    return 1\n"
    )


def test_insert_after_last_line_without_newline() -> None:
    result = apply_fixes("clip(p, 1)", rules=[DiscardedNorm])
    assert result.source == "norm = clip(p, 1)\nlog(norm)\n"


def test_crlf_is_kept() -> None:
    result = apply_fixes("x = 1\r\nclip(p, 1)\r\ny = 2\r\n", rules=[DiscardedNorm])
    assert result.source == "x = 1\r\nnorm = clip(p, 1)\r\nlog(norm)\r\ny = 2\r\n"


def test_unsafe_fix_needs_opt_in() -> None:
    src = "class M:\n    def build(self):\n        model = Net(\n            dim,\n        )\n"
    safe = apply_fixes(src, rules=[NeedsCheck])
    assert safe.source == src
    assert safe.applied == 0
    assert [d.code for d in safe.remaining] == ["XX903"]
    unsafe = apply_fixes(src, rules=[NeedsCheck], unsafe=True)
    # Anchored on an expression inside a multi-line statement: inserted before the statement.
    assert unsafe.source == (
        "class M:\n    def build(self):\n        check(dim)\n        model = Net(\n"
        "            dim,\n        )\n"
    )
    assert unsafe.remaining == []


def test_fix_that_breaks_the_file_is_never_applied() -> None:
    src = "y = broken + 1\nimport torch\nopt = torch.optim.Adam(p, lr=0.1)\n"
    result = apply_fixes(src, rules=[Breaks, LiteralLr])
    assert _parses(result.source)
    assert result.source == "y = broken + 1\nimport torch\nopt = torch.optim.Adam(p, lr=cfg.lr)\n"
    assert result.applied == 1
    assert [d.code for d in result.remaining] == ["XX904"]


def test_overlapping_fixes_take_one_per_round() -> None:
    # Both rules anchor on nested nodes; the outer replace and the inner one overlap.
    class WrapCall(Rule):
        code = "XX906"
        name = "test-wrap"
        summary = "wrap"
        triggers = ("f(",)

        def visit_Call(self, node: cst.Call) -> None:
            if self.context.qualname(node.func) == "f":
                self.report(
                    node,
                    "wrap",
                    Fix(
                        "wrap",
                        (Edit(node, "g(" + self.context.code_for(node.args[0].value) + ")"),),
                    ),
                )

    result = apply_fixes("x = f(old)\n", rules=[WrapCall, Rename])
    assert result.source == "x = g(new)\n"
    assert result.applied == 2
    assert result.remaining == []


def test_noqa_finding_is_not_fixed() -> None:
    src = "import torch\nopt = torch.optim.Adam(p, lr=0.1)  # noqa: XX901\n"
    result = apply_fixes(src, rules=[LiteralLr])
    assert result.source == src
    assert result.applied == 0


def test_unparsable_input_is_returned_untouched() -> None:
    src = "def f(:\n    lr = 1\n"
    result = apply_fixes(src, rules=[LiteralLr])
    assert result.source == src
    assert [d.code for d in result.remaining] == ["AL000"]


@pytest.mark.parametrize(
    ("edits", "expected"),
    [
        ([TextEdit(0, 1, "X"), TextEdit(2, 3, "Y")], "XbYd"),
        ([TextEdit(1, 1, "+", 0), TextEdit(1, 1, "-", 1)], "a+-bcd"),
        ([TextEdit(1, 2, "B"), TextEdit(1, 1, "^")], "a^Bcd"),
    ],
)
def test_apply_text_edits(edits: list[TextEdit], expected: str) -> None:
    assert apply_text_edits("abcd", edits) == expected


def test_cst_node_content_is_rendered() -> None:
    class Negate(Rule):
        code = "XX907"
        name = "test-negate"
        summary = "negate"
        triggers = ("flag",)

        def visit_Assign(self, node: cst.Assign) -> None:
            if isinstance(node.value, cst.Name) and node.value.value == "flag":
                new = cst.UnaryOperation(cst.Not(), cst.Name("flag"))
                self.report(node.value, "negate", Fix("negate", (Edit(node.value, new),)))

    assert apply_fixes("x = flag\n", rules=[Negate]).source == "x = not flag\n"
