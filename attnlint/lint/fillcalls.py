"""AL402 one call away: a helper returns scores filled with ``-inf`` (``def mask_logits(s,
m): return s.masked_fill(~m, float("-inf"))``) and its caller softmaxes the result.

The helper records a fact on its ``RETURN`` (``index.fact``); a call whose result reaches
a softmax with no covering cleanup before its use is a pending finding (``report_if``)
decided by the project index. Same placement as AL301's helpers: at the fill when the
helper is in the module being checked (the fix, ``torch.finfo(dtype).min``, goes there),
at the call otherwise.
"""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst

from attnlint.lint.flow import ScopeFlow, Step
from attnlint.lint.index import RETURN
from attnlint.lint.masks import leak
from attnlint.lint.rule import Rule
from attnlint.lint.vocab import callee_last, contains, passes_named

FILLS = "al402.returns_neg_inf"
_LIBRARIES = ("torch.", "numpy.", "math.", "builtins.")

Reach = Callable[[ScopeFlow, Step, cst.CSTNode, set[str]], tuple[Step, cst.Call] | None]


def _is_softmax(call: cst.Call) -> bool:
    if callee_last(call) in ("softmax", "log_softmax"):
        return True
    return isinstance(call.func, cst.Call) and callee_last(call.func) in ("Softmax", "LogSoftmax")


_MASK_TOKENS = frozenset({"mask", "masks", "padding", "pad", "valid", "lengths", "lens"})


def _passes_a_mask(call: cst.Call) -> bool:
    """A helper that fills with -inf may be handed the mask (or the lengths it is built
    from): a call with the scores and something else (the mask's name is no guide:
    ``neighbor_logits(logits, inside)``), or with anything named like a mask."""
    return sum(1 for arg in call.args if not arg.star) >= 2 or passes_named(call, _MASK_TOKENS)


def _spelling(anchor: cst.CSTNode) -> str:
    """How the helper fills, for the message: ``torch.where(..., -inf)``."""
    if isinstance(anchor, cst.Call):
        last = callee_last(anchor)
        return "torch.where(..., -inf)" if last == "where" else f"{last}(..., -inf)"
    return "scores[...] = -inf" if isinstance(anchor, cst.Assign) else "-inf fill"


class FillCalls:
    """Mixed into AL402 before ``ScopedRule``: calls become candidates only in scopes
    that call a softmax."""

    fill_calls: set[int]

    def init_fills(self) -> None:
        self.fill_calls = set()
        self._fills: dict[str, cst.CSTNode] = {}  # helper's name -> its -inf fill
        self._pending: list[tuple[cst.Call, str]] = []
        self._side: dict[int, list[cst.Call]] = {}
        self._softmax: set[int] = set()

    def _scope_id(self) -> int:
        scopes = self._scopes  # type: ignore[attr-defined]
        return id(scopes[-1][0]) if scopes else 0

    def watch_call(self, node: cst.Call) -> None:
        if _is_softmax(node):
            self._softmax.add(self._scope_id())
        elif isinstance(node.func, cst.Name | cst.Attribute) and _passes_a_mask(node):
            self._side.setdefault(self._scope_id(), []).append(node)

    def returned_fill(
        self, flow: ScopeFlow, step: Step, anchor: cst.CSTNode, names: set[str]
    ) -> None:
        """A ``-inf`` fill that reaches no softmax here: if it is returned, callers may."""
        scope = flow.scope
        if not isinstance(scope, cst.FunctionDef):
            return
        returned = isinstance(step.node, cst.Return) or any(
            isinstance(later.node, cst.Return) for later, _ in flow.forward(names, step.index)
        )
        if returned:
            rule: Rule = self  # type: ignore[assignment]
            rule.context.index.fact(scope, FILLS, RETURN, _spelling(anchor))
            self._fills.setdefault(scope.name.value, anchor)

    def fill_callers(self, flow: ScopeFlow, calls: list[cst.Call], reach: Reach) -> None:
        """Calls whose result reaches a softmax whose probabilities are used uncleaned."""
        rule: Rule = self  # type: ignore[assignment]
        scope = flow.scope
        caller = scope.name.value if isinstance(scope, cst.FunctionDef) else "<module>"
        for call in calls:
            step = flow.step_of(call)
            callee = rule.context.index.callee(call)
            if step is None or callee is None or callee.startswith(_LIBRARIES):
                continue
            names = (
                set(step.binds) if step.value is not None and contains(step.value, call) else set()
            )
            found = reach(flow, step, call, names)
            if found is not None and leak(flow, found[0], found[1], {}) is not None:
                self._pending.append((call, caller))

    def _promote(self, scope: cst.FunctionDef | cst.Module) -> None:
        side = self._side.pop(id(scope), None)
        if side and id(scope) in self._softmax:
            for node in side:
                self.fill_calls.add(id(node))
                self._found.setdefault(id(scope), []).append(node)  # type: ignore[attr-defined]

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._promote(original_node)
        super().leave_FunctionDef(original_node)  # type: ignore[misc]

    def leave_Module(self, original_node: cst.Module) -> None:
        self._promote(original_node)
        super().leave_Module(original_node)  # type: ignore[misc]
        rule: Rule = self  # type: ignore[assignment]
        done: set[object] = set()  # one finding per fill, or per helper of another module
        for call, caller in self._pending:
            fill = self._fills.get(callee_last(call))
            node = fill if fill is not None else call
            key = id(fill) if fill is not None else rule.context.index.callee(call)
            if key in done:
                continue
            done.add(key)
            if fill is not None:
                message = (
                    f"filled with -inf here and returned; {caller} softmaxes the result of "
                    "{callee} with nothing guarding fully masked rows: exp(-inf)/0 = NaN; "
                    "fill with torch.finfo(dtype).min or guard fully masked rows"
                )
            else:
                message = (
                    "{callee} fills with -inf (`{detail}`) and the softmax here takes its "
                    "result with nothing guarding fully masked rows: exp(-inf)/0 = NaN; "
                    "fill with torch.finfo(dtype).min in the helper or guard fully masked rows"
                )
            rule.report_if(node, call, RETURN, FILLS, message)
        self._fills.clear()
        self._pending.clear()
