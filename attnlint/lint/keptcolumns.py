"""Masks built with a column they never mask (AL402): the key of a CLS or register token
prepended to the padding mask (``torch.cat([torch.ones(b, 1, dtype=torch.bool), keep],
1)``, ``F.pad(keep, (1, 0), value=True)``). No row of such a mask is masked whole, so its
``-inf`` fill cannot give a NaN softmax.

The mask may be built by the caller of the function with the fill: ``kept_values`` says
which value of a parameter the fill never masks (True for a keep mask filled where
``~keep``, False for a padding mask filled where ``pad``), ``column_values`` the values of
the constant columns an argument is built with in the caller."""

from __future__ import annotations

import libcst as cst

from attnlint.lint.flow import ScopeFlow, Step, read_names
from attnlint.lint.helpers import call_arg
from attnlint.lint.masks import PASS_THROUGH, literal_number, on_empty_row
from attnlint.lint.vocab import callee_last

_ONES = frozenset({"ones", "ones_like", "new_ones"})
_ZEROS = frozenset({"zeros", "zeros_like", "new_zeros"})
_FULL = {"full": 1, "full_like": 1, "new_full": 1}  # callee -> position of the fill value


def _constant(node: cst.BaseExpression) -> bool | None:
    """The value of a tensor filled with one constant: ``torch.ones(b, 1, dtype=bool)``,
    ``torch.full((b, 1), True)``, ``x.new_zeros(b, 1).bool()``."""
    while (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Attribute)
        and callee_last(node) in PASS_THROUGH
    ):
        node = node.func.value
    if not isinstance(node, cst.Call):
        return None
    last = callee_last(node)
    if last in _ONES or last in _ZEROS:
        return last in _ONES
    if last in _FULL:
        arg = call_arg(node, "fill_value", _FULL[last])
        found = literal_number(arg.value) if arg is not None else None
        return None if found is None else found != 0.0
    return None


def _constant_columns(value: cst.BaseExpression, flow: ScopeFlow, at: int) -> list[bool]:
    """Values of the constant columns a mask is built with: ``torch.cat([torch.ones(b, 1,
    dtype=torch.bool), mask], 1)`` (a CLS or register token; also ``cls = torch.ones(...)``
    bound before), ``F.pad(mask, (1, 0), value=True)``."""
    if not isinstance(value, cst.Call):
        return []
    last = callee_last(value)
    first = call_arg(value, "tensors", 0)
    if last in ("cat", "concat", "concatenate") and first is not None:
        parts = first.value
        if isinstance(parts, cst.List | cst.Tuple):
            found = [
                _constant(_bound(flow, e.value, at))
                for e in parts.elements
                if not isinstance(e, cst.StarredElement)
            ]
            return [c for c in found if c is not None]
    if last == "pad":
        arg = call_arg(value, "value", 3)
        found = literal_number(arg.value) if arg is not None else None
        return [] if found is None else [found != 0.0]
    return []


def _sole_definition(flow: ScopeFlow, name: str, at: int) -> Step | None:
    """The one assignment of ``name`` that reaches step ``at`` on every path: not one in
    a branch beside the use (``elif cls: keep = torch.cat(...)`` ... ``else: f(keep)``
    sees the value passed in), where another path keeps the value from before."""
    defs = flow.definitions(name, at)
    if len(defs) != 1 or defs[0].value is None or not isinstance(defs[0].node, cst.Assign):
        return None
    use = flow.steps[at] if at < len(flow.steps) else None
    return defs[0] if use is None or defs[0].encloses(use) else None


def _bound(flow: ScopeFlow, node: cst.BaseExpression, at: int) -> cst.BaseExpression:
    """The value a name was bound to by its one assignment (else the node itself)."""
    if isinstance(node, cst.Name):
        found = _sole_definition(flow, node.value, at)
        if found is not None and found.value is not None:
            return found.value
    return node


def kept_values(
    flow: ScopeFlow, mask: cst.BaseExpression, at: int, params: set[str]
) -> dict[str, bool]:
    """Parameter -> the value a column of it must have for the fill's ``mask`` never to
    mask that column; only parameters the function has not rebound before the fill."""
    out: dict[str, bool] = {}
    for name in read_names(mask) & params:
        if flow.definitions(name, at):
            continue  # ``keep = ~keep``: no longer the value the caller passed
        for column in (True, False):
            if on_empty_row(flow, mask, at, {name: column}) is False:
                out[name] = column
                break
    return out


def column_values(flow: ScopeFlow, value: cst.BaseExpression, at: int, depth: int = 4) -> set[bool]:
    """The values of the constant columns ``value`` is built with, in this scope:
    ``F.pad(keep, (1, 0), value=True)`` gives {True}, ``~torch.cat([zeros, pad], 1)``
    {True}, a name bound to one of these the same; empty when there is none."""
    if depth <= 0:
        return set()
    if isinstance(value, cst.Subscript):  # keep[:, None, None, :]
        return column_values(flow, value.value, at, depth)
    if isinstance(value, cst.UnaryOperation) and isinstance(
        value.operator, cst.BitInvert | cst.Not
    ):
        return {not v for v in column_values(flow, value.expression, at, depth)}
    if isinstance(value, cst.Comparison) and len(value.comparisons) == 1:
        target = value.comparisons[0]
        found = literal_number(target.comparator)
        if found not in (0.0, 1.0) or not isinstance(target.operator, cst.Equal | cst.NotEqual):
            return set()
        same = (found == 1.0) == isinstance(target.operator, cst.Equal)
        return {v == same for v in column_values(flow, value.left, at, depth)}
    if isinstance(value, cst.Name):
        found = _sole_definition(flow, value.value, at)
        if found is None or found.value is None:
            return set()
        return column_values(flow, found.value, found.index, depth - 1)
    if not isinstance(value, cst.Call):
        return set()
    if isinstance(value.func, cst.Attribute) and callee_last(value) in PASS_THROUGH:
        return column_values(flow, value.func.value, at, depth)
    if callee_last(value) in ("logical_not", "bitwise_not"):
        func = value.func
        inner = func.value if isinstance(func, cst.Attribute) and not value.args else None
        if inner is None and value.args:
            inner = value.args[0].value
        return {not v for v in column_values(flow, inner, at, depth)} if inner else set()
    return set(_constant_columns(value, flow, at))


def never_empty(flow: ScopeFlow, mask: cst.BaseExpression, at: int) -> bool:
    """The fill's mask is built with a column it never masks (the value ``mask`` takes
    there is False), so no row is masked whole."""
    for name in read_names(mask):
        found = _sole_definition(flow, name, at)
        if found is None or found.value is None:
            continue
        for column in _constant_columns(found.value, flow, found.index):
            if on_empty_row(flow, mask, at, {name: column}) is False:
                return True
    return False
