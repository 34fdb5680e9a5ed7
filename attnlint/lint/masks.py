"""Masks and the cleanups that make a ``-inf`` masked softmax safe (AL402).

A fully masked row is the one case that matters: ``softmax([-inf, ..., -inf])`` is NaN.
So a mask expression is judged by one question, *what is its value on a fully masked
row?* The fill tells each mask name's polarity (``masked_fill(m, -inf)``: ``m`` is True
where masked; ``masked_fill(~valid, -inf)``: ``valid`` is True where kept), and from
there ``~``, ``&``, ``|``, ``== 0``, ``.any(dim)``, ``.all(dim)`` and ``.sum(dim) == 0``
are evaluated on that row: ``valid.any(-1)`` is False there ("rows that still have a
valid key"), ``mask.all(-1)`` is True. A cleanup covers the empty rows when the region
it replaces is True on them.

A cleanup only helps before the probabilities are used: ``leak`` follows the softmax's
result forward to its first use (a return, a store) that no covering cleanup preceded.
"""

from __future__ import annotations

from collections.abc import Mapping

import libcst as cst

from attnlint.lint.flow import ScopeFlow, Step, read_names
from attnlint.lint.helpers import call_arg, is_number_literal
from attnlint.lint.values import is_sink, value_names, value_reads
from attnlint.lint.vocab import callee_last, contains

Polarity = dict[str, bool]  # mask name -> its value on a fully masked row

PASS_THROUGH = frozenset(
    {
        "bool", "to", "unsqueeze", "view", "reshape", "expand", "expand_as", "repeat",
        "flatten", "float", "long", "int", "type_as", "contiguous", "squeeze", "detach",
        "permute", "transpose", "broadcast_to",
    }
)  # fmt: skip
_NAN_TESTS = frozenset({"isnan", "isinf", "isneginf"})
_CLEANERS = frozenset({"nan_to_num", "nan_to_num_"})
_FILLS = frozenset({"masked_fill", "masked_fill_"})


def literal_number(node: cst.BaseExpression) -> float | None:
    if isinstance(node, cst.Name):
        return {"False": 0.0, "True": 1.0}.get(node.value)
    if not is_number_literal(node):
        return None
    try:
        return float(cst.Module([]).code_for_node(node).replace("_", ""))
    except ValueError:  # 0x1f, 1j
        return None


def _is_zero(node: cst.BaseExpression) -> bool:
    return literal_number(node) == 0.0


def _is_one(node: cst.BaseExpression) -> bool:
    return literal_number(node) == 1.0


def polarity(flow: ScopeFlow, mask: cst.BaseExpression, at: int, value: bool = True) -> Polarity:
    """Mask names and their value on a fully masked row, given that ``mask`` is ``value``
    there (True for the mask of a ``-inf`` fill)."""
    out: Polarity = {}
    _polarity(flow, mask, at, value, out, 4)
    return out


def _polarity(
    flow: ScopeFlow, expr: cst.BaseExpression, at: int, value: bool, out: Polarity, depth: int
) -> None:
    if depth <= 0:
        return
    if isinstance(expr, cst.Name):
        out.setdefault(expr.value, value)
        defs = flow.definitions(expr.value, at)
        if len(defs) == 1 and defs[0].value is not None and isinstance(defs[0].node, cst.Assign):
            _polarity(flow, defs[0].value, defs[0].index, value, out, depth - 1)
    elif isinstance(expr, cst.Attribute | cst.Subscript):
        name = _chain(expr)
        if name is not None:
            out.setdefault(name, value)
        _polarity(flow, expr.value, at, value, out, depth)
    elif isinstance(expr, cst.UnaryOperation) and isinstance(
        expr.operator, cst.BitInvert | cst.Not
    ):
        _polarity(flow, expr.expression, at, not value, out, depth)
    elif isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.BitOr):
        if value:  # one side True is enough: nothing is known about either
            return
        _polarity(flow, expr.left, at, value, out, depth)
        _polarity(flow, expr.right, at, value, out, depth)
    elif isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.BitAnd):
        if value:
            _polarity(flow, expr.left, at, value, out, depth)
            _polarity(flow, expr.right, at, value, out, depth)
    elif isinstance(expr, cst.Comparison) and len(expr.comparisons) == 1:
        target = expr.comparisons[0]
        if isinstance(target.operator, cst.Equal | cst.NotEqual | cst.Is | cst.IsNot):
            flip = _is_zero(target.comparator) == isinstance(target.operator, cst.Equal | cst.Is)
            if _is_zero(target.comparator) or _is_one(target.comparator):
                _polarity(flow, expr.left, at, value != flip, out, depth)
    elif isinstance(expr, cst.Call):
        last = callee_last(expr)
        receiver = expr.func.value if isinstance(expr.func, cst.Attribute) else None
        if last in ("logical_not", "bitwise_not") and receiver is not None:
            _polarity(flow, receiver, at, not value, out, depth)
        elif last in ("eq", "ne") and receiver is not None and expr.args:
            flip = _is_zero(expr.args[0].value) == (last == "eq")
            _polarity(flow, receiver, at, value != flip, out, depth)
        elif last in PASS_THROUGH and receiver is not None:
            _polarity(flow, receiver, at, value, out, depth)


def _chain(expr: cst.BaseExpression) -> str | None:
    """``self.mask`` -> "self.mask"; subscripts are looked through: ``m[:, None]`` -> "m"."""
    while isinstance(expr, cst.Subscript):
        expr = expr.value
    parts: list[str] = []
    while isinstance(expr, cst.Attribute):
        parts.append(expr.attr.value)
        expr = expr.value
    if not isinstance(expr, cst.Name) or not parts:
        return None
    return ".".join([expr.value, *reversed(parts)])


def on_empty_row(
    flow: ScopeFlow, expr: cst.BaseExpression, at: int, known: Mapping[str, bool], depth: int = 5
) -> bool | None:
    """The value of the boolean tensor ``expr`` on a fully masked row (None: unknown).
    NaN tests are True there: the row of a NaN softmax is all NaN."""
    if depth <= 0:
        return None
    if isinstance(expr, cst.Name | cst.Attribute | cst.Subscript):
        name = expr.value if isinstance(expr, cst.Name) else _chain(expr)
        if name is not None and name in known:
            return known[name]
        if isinstance(expr, cst.Subscript | cst.Attribute):
            return on_empty_row(flow, expr.value, at, known, depth)
        defs = flow.definitions(expr.value, at)
        if len(defs) == 1 and defs[0].value is not None and isinstance(defs[0].node, cst.Assign):
            return on_empty_row(flow, defs[0].value, defs[0].index, known, depth - 1)
        return None
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.BitInvert | cst.Not):
        inner = on_empty_row(flow, expr.expression, at, known, depth)
        return None if inner is None else not inner
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.BitAnd | cst.BitOr):
        left = on_empty_row(flow, expr.left, at, known, depth)
        right = on_empty_row(flow, expr.right, at, known, depth)
        if isinstance(expr.operator, cst.BitAnd):
            return False if False in (left, right) else (True if left and right else None)
        return (
            True if True in (left, right) else (False if left is False and right is False else None)
        )
    if isinstance(expr, cst.Comparison) and len(expr.comparisons) == 1:
        return _compared(flow, expr, at, known, depth)
    if isinstance(expr, cst.Call):
        last = callee_last(expr)
        func = expr.func
        receiver = func.value if isinstance(func, cst.Attribute) else None
        arg = call_arg(expr, "input", 0)
        first = arg.value if arg is not None else None
        if last in _NAN_TESTS:
            return True
        if last == "isfinite":
            return False
        if last in ("logical_not", "bitwise_not") and receiver is not None:
            inner = on_empty_row(flow, receiver, at, known, depth)
            return None if inner is None else not inner
        if last in ("any", "all", *PASS_THROUGH):
            # a row reduction keeps the (uniform) value of a fully masked row
            target = receiver if receiver is not None and not _is_torch(receiver) else first
            inner = on_empty_row(flow, target, at, known, depth) if target is not None else None
            if last in PASS_THROUGH or len(expr.args) > (target is first) or inner is None:
                return inner  # along a dim: the empty row's value is kept
            # over the whole tensor: other rows decide, unless this one does
            return inner if inner is (last == "any") else None
    return None


def _is_torch(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value in ("torch", "th", "np", "numpy")


def _compared(
    flow: ScopeFlow, expr: cst.Comparison, at: int, known: Mapping[str, bool], depth: int
) -> bool | None:
    """``m == 0``, ``valid.sum(-1) == 0``, ``counts > 0``, ``m == True``."""
    target = expr.comparisons[0]
    left = expr.left
    summed = isinstance(left, cst.Call) and callee_last(left) in ("sum", "count_nonzero")
    if summed and isinstance(left, cst.Call):
        base = left.func.value if isinstance(left.func, cst.Attribute) else None
        inner = on_empty_row(flow, base, at, known, depth) if base is not None else None
        if inner is None:
            return None
        # the count of True entries on the row: 0 when inner is False, n > 0 when True
        zero = not inner
        if isinstance(target.operator, cst.Equal) and _is_zero(target.comparator):
            return zero
        if isinstance(target.operator, cst.NotEqual | cst.GreaterThan) and _is_zero(
            target.comparator
        ):
            return not zero
        return None
    inner = on_empty_row(flow, left, at, known, depth)
    if inner is None:
        return None
    if isinstance(target.operator, cst.Equal | cst.Is):
        return (
            inner
            if _is_one(target.comparator)
            else (not inner if _is_zero(target.comparator) else None)
        )
    if isinstance(target.operator, cst.NotEqual | cst.IsNot):
        return (
            not inner
            if _is_one(target.comparator)
            else (inner if _is_zero(target.comparator) else None)
        )
    return None


# -- cleanups and uses of the probabilities -------------------------------------------


def _is_infinite(node: cst.BaseExpression) -> bool:
    text = cst.Module([]).code_for_node(node).replace(" ", "").lower()
    return "inf" in text or "nan" in text


def cleanup(
    flow: ScopeFlow, step: Step, call: cst.Call, dirty: set[str], known: Mapping[str, bool]
) -> bool | None:
    """Whether ``call`` (in ``step``) replaces the NaN of fully masked rows in a dirty
    value: True (it does, or cannot be judged: the rule stays quiet), False (a cleanup
    that misses them), None (not a cleanup of a dirty value)."""
    last = callee_last(call)
    func = call.func
    receiver = func.value if isinstance(func, cst.Attribute) else None
    if last in _CLEANERS:
        target = receiver if receiver is not None and not _is_torch(receiver) else None
        if target is None:
            arg = call_arg(call, "input", 0)
            target = arg.value if arg is not None else None
        return True if target is not None and read_names(target) & dirty else None
    if last in _FILLS and receiver is not None and read_names(receiver) & dirty:
        mask = call_arg(call, "mask", 0)
        fill = call_arg(call, "value", 1)
        if mask is None or fill is None or _is_infinite(fill.value):
            return None
        covers = on_empty_row(flow, mask.value, step.index, known)
        return covers is not False
    if last == "where" and len(call.args) == 3:
        cond, keep, other = (arg.value for arg in call.args)
        in_keep = bool(value_names(keep) & dirty)
        in_other = bool(value_names(other) & dirty)
        if in_keep == in_other:
            return None
        replaced = other if in_keep else keep
        if _is_infinite(replaced):
            return None
        value = on_empty_row(flow, cond, step.index, known)
        covers = (not value) if (in_keep and value is not None) else value
        return covers is not False
    return None


def subscript_cleanup(
    flow: ScopeFlow, step: Step, dirty: set[str], known: Mapping[str, bool]
) -> tuple[str, bool] | None:
    """``attn[rows] = 0.0`` on a dirty name: (the name, whether it covers empty rows)."""
    node = step.node
    if not isinstance(node, cst.Assign) or len(node.targets) != 1:
        return None
    target = node.targets[0].target
    if not isinstance(target, cst.Subscript) or not isinstance(target.value, cst.Name):
        return None
    name = target.value.value
    if name not in dirty or len(target.slice) != 1 or _is_infinite(node.value):
        return None
    index = target.slice[0].slice
    if not isinstance(index, cst.Index):
        return None
    covers = on_empty_row(flow, index.value, step.index, known)
    return name, covers is not False


def leak(flow: ScopeFlow, step: Step, softmax: cst.Call, known: Mapping[str, bool]) -> Step | None:
    """The first step where the probabilities of ``softmax`` (at ``step``) are used with
    the NaN of fully masked rows still in them, or None when every use is preceded by a
    covering cleanup (or there is no use)."""
    for call in step.calls:
        if (
            call is not softmax
            and contains(call, softmax)
            and cleanup(flow, step, call, read_names(softmax), known) is True
        ):
            return None
    node = step.node
    if not isinstance(node, cst.Assign) or not step.binds:
        return step if is_sink(step) else None
    if any(not isinstance(t.target, cst.Name | cst.Tuple | cst.List) for t in node.targets):
        return step
    dirty = set(step.binds)
    for later in flow.steps[step.index + 1 :]:
        if not dirty:
            return None
        used = (value_reads(later) | later.mutates) & dirty
        if not used:
            if later.encloses(step):  # rebound from something else on every path
                dirty -= later.binds
            continue
        handled = subscript_cleanup(flow, later, dirty, known)
        if handled is not None:
            if handled[1]:
                dirty.discard(handled[0])
            continue
        outcome = _step_cleanup(flow, later, dirty, known)
        if outcome is True:
            dirty -= later.binds | later.mutates | (set() if later.binds else used)
            continue
        if outcome is False:  # the fallback misses the empty rows: still NaN
            dirty |= later.binds
            continue
        if isinstance(later.node, cst.If | cst.While | cst.Assert) or (
            isinstance(later.node, cst.WithItem) and not later.binds
        ):
            continue  # a test reads the probabilities; it does not pass them on
        if is_sink(later):
            return later
        dirty |= later.binds
    return None


def _step_cleanup(
    flow: ScopeFlow, step: Step, dirty: set[str], known: Mapping[str, bool]
) -> bool | None:
    """The outermost cleanup of a dirty value in ``step``, judged (None: none)."""
    for call in step.calls:  # outermost first
        outcome = cleanup(flow, step, call, dirty, known)
        if outcome is not None:
            return outcome
    return None
