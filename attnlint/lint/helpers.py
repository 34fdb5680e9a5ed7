"""Small syntax helpers shared by rules. Pure functions over bare libcst nodes."""

from __future__ import annotations

import libcst as cst


def call_arg(call: cst.Call, keyword: str | None, position: int | None) -> cst.Arg | None:
    """The argument passed as ``keyword=`` or at ``position`` (0-based), if any."""
    positional = 0
    for arg in call.args:
        if arg.keyword is not None:
            if keyword is not None and arg.keyword.value == keyword:
                return arg
        elif arg.star == "":
            if position is not None and positional == position:
                return arg
            positional += 1
    return None


def is_number_literal(node: cst.BaseExpression) -> bool:
    """``1e-3``, ``-0.5``, ``+2``, ``(3e-4)``: a numeric literal, possibly signed."""
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus | cst.Plus):
        node = node.expression
    return isinstance(node, cst.Integer | cst.Float)


def names_in(node: cst.CSTNode) -> set[str]:
    """Every bare ``Name`` read or written anywhere inside ``node``."""
    found: set[str] = set()

    class _Names(cst.CSTVisitor):
        def visit_Name(self, name: cst.Name) -> None:
            found.add(name.value)

    node.visit(_Names())
    return found


def assigned_names(target: cst.BaseExpression) -> list[str]:
    """Plain names bound by an assignment target (tuples unpacked; attributes skipped)."""
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, cst.Tuple | cst.List):
        out: list[str] = []
        for element in target.elements:
            out.extend(assigned_names(element.value))
        return out
    return []
