"""A clip norm's value seen through the conversions code applies to it before dropping or
keeping it (AL103): ``clip_grad_norm_(...).item()``, ``float(clip_grad_norm_(...))``."""

from __future__ import annotations

import libcst as cst

_CONVERSIONS = frozenset({"item", "cpu", "detach", "float", "tolist", "numpy", "to"})


def converted(value: cst.BaseExpression) -> cst.BaseExpression:
    """The call a conversion of its result starts from: ``clip_grad_norm_(...).item()``,
    ``float(clip_grad_norm_(...))``; anything else as it is."""
    for _ in range(3):
        if not isinstance(value, cst.Call):
            break
        func = value.func
        if isinstance(func, cst.Attribute) and func.attr.value in _CONVERSIONS:
            value = func.value
        elif isinstance(func, cst.Name) and func.value in ("float", "int") and value.args:
            value = value.args[0].value
        else:
            break
    return value
