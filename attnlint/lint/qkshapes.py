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
    if a[-1] == b[-1] and a[-1] not in output and a[-1].isalpha():
        return True
    return _channels_first(a, b, output)


def _channels_first(a: str, b: str, output: str) -> bool:
    """``"bci,bcj->bij"``: the contracted axis at the same place in both operands (the
    ``[B, C, N]`` layout of convolutional attention), each operand keeping one axis of
    its own, and the output ending in q's axis then k's (a value product ``"bij,bcj->bci"``
    ends the other way round)."""
    a, b, output = (s.replace("...", "") for s in (a, b, output))
    if len(a) != len(b) or len(a) < 2 or not (a + b).isalpha():
        return False
    contracted = [c for c in a if c in b and c not in output]
    own_a = [c for c in a if c not in b]
    own_b = [c for c in b if c not in a]
    if len(contracted) != 1 or len(own_a) != 1 or len(own_b) != 1:
        return False
    axis = contracted[0]
    return a.index(axis) == b.index(axis) and output[-2:] == own_a[0] + own_b[0]
