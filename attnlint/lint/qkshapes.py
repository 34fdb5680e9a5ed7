"""Syntax shapes of a query-key product that AL401 recognises (no flow needed)."""

from __future__ import annotations

import libcst as cst

from attnlint.lint.flow import callee_last
from attnlint.lint.helpers import call_arg


def unbinds_last_axis(value: cst.BaseExpression) -> bool:
    """``qkv.unbind(-1)`` / ``qkv.unbind(dim=-1)``: the parts have no feature axis."""
    if not isinstance(value, cst.Call) or callee_last(value) != "unbind":
        return False
    dim = call_arg(value, "dim", 0 if isinstance(value.func, cst.Attribute) else 1)
    return (
        dim is not None
        and isinstance(dim.value, cst.UnaryOperation)
        and (isinstance(dim.value.expression, cst.Integer) and dim.value.expression.value == "1")
    )


def is_qk_einsum(spec: cst.BaseExpression) -> bool:
    """``"bhid,bhjd->bhij"``: both operands' last axis is contracted away."""
    if not isinstance(spec, cst.SimpleString):
        return False
    text = spec.evaluated_value
    if not isinstance(text, str) or "->" not in text:
        return False
    inputs, output = text.replace(" ", "").split("->", 1)
    parts = inputs.split(",")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        return False
    a, b = parts
    return a[-1] == b[-1] and a[-1] not in output and a[-1].isalpha()
