"""Where a value ends up: whether scores computed at one step reach the loss."""

from __future__ import annotations

import libcst as cst

from attnlint.lint.flow import ScopeFlow, Step, read_names
from attnlint.lint.vocab import contains, is_loss_call


def _is_backward(call: cst.Call) -> bool:
    """``x.backward()`` or ``scaler.scale(x)``: the value is what gets differentiated."""
    return isinstance(call.func, cst.Attribute) and call.func.attr.value in ("backward", "scale")


def feeds_loss(
    flow: ScopeFlow, step: Step, node: cst.CSTNode, names: set[str], loss_scope: bool
) -> bool:
    """Whether the value of ``node`` (computed at ``step``; bound to ``names`` after it)
    reaches a loss: an argument of a loss call, the receiver of ``.backward()`` or
    ``scaler.scale()``, or the return value of a loss function."""
    for call in step.calls:
        if call is node or not contains(call, node):
            continue
        if is_loss_call(call) and any(contains(arg, node) for arg in call.args):
            return True
        if _is_backward(call) and contains(call.func.value, node):  # type: ignore[attr-defined]
            return True
    if loss_scope and isinstance(step.node, cst.Return):
        return True
    for later, used in flow.forward(names, step.index):
        for call in later.calls:
            if is_loss_call(call) and any(read_names(arg.value) & used for arg in call.args):
                return True
            if _is_backward(call) and read_names(call.func.value) & used:  # type: ignore[attr-defined]
                return True
        if loss_scope and isinstance(later.node, cst.Return):
            return True
    return False
