"""AL402 and the callers of a helper whose ``-inf`` fill masks a parameter: the mask may be
built by the caller with a column it never masks (``F.pad(keep, (1, 0), value=True)``,
``torch.cat([ones, keep], -1)`` for a prepended CLS key).

The helper's finding is then judged by its calls, in the polarity the helper gives the
mask (a keep mask filled where ``~keep`` needs a column of True, a padding mask filled
where ``pad`` a column of False): silent when there is at least one call and every one
passes such a mask. Calls in the helper's own module decide when there are any; for a
module-level helper with none, the helper records ``KEPT_BY_CALLER`` at its finding and
every call of an imported helper records what its arguments are built with, for phase 2
(``attnlint.lint.callervotes``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from attnlint.lint.callers import (
    KEPT_BY_CALLER,
    bound_arguments,
    callers,
    imported_helper,
    literal,
    module_functions,
    two_tensors,
)
from attnlint.lint.causalnames import causal_attributes, never_empty_by_name, triangular
from attnlint.lint.diagnostic import Fix
from attnlint.lint.flow import ScopeFlow, scope_flow
from attnlint.lint.helpers import parameter_names
from attnlint.lint.index import ANY_PARAM, call_slots
from attnlint.lint.keptcolumns import column_values, kept_values
from attnlint.lint.rule import Rule
from attnlint.lint.vocab import passes_named

# Appended to the helper's finding when another caller protects it (phase 2 renders it).
UNPROTECTED = "{caller} passes a mask that can mask a row whole"


@dataclass(slots=True)
class _Deferred:
    function: cst.FunctionDef
    klass: str | None
    kept: dict[str, bool]  # mask parameter -> the value of a column the fill never masks
    anchor: cst.CSTNode
    message: str
    fix: Fix | None


# Each holds one of AL402's trigger words: a file that passes a mask is always checked.
_MASK_TOKENS = frozenset({"mask", "masks", "padding", "pad", "valid", "keep"})


def _passes_a_mask(call: cst.Call) -> bool:
    return passes_named(call, _MASK_TOKENS)


class MaskCallers:
    """Mixed into AL402 before ``ScopedRule``."""

    def init_mask_callers(self) -> None:
        self._deferred_masks: list[_Deferred] = []
        self.outgoing_calls: set[int] = set()

    def watch_outgoing(self, node: cst.Call) -> bool:
        """A call of a helper imported from another module that hands it a mask: its
        arguments are recorded for the helper's finding (a candidate of the scope)."""
        rule: Rule = self  # type: ignore[assignment]
        # the scores and the mask, at least (for the calls that protect and those that
        # do not alike: a filter on one side only would silence wrongly)
        if not two_tensors(node) or not imported_helper(node, rule.context.index.summary.imports):
            return False
        if not _passes_a_mask(node):
            return False
        self.outgoing_calls.add(id(node))
        return True

    def record_outgoing(self, flow: ScopeFlow, call: cst.Call) -> None:
        """The values of the constant columns each argument is built with (phase 2
        compares them with the helper's polarity), and one for the whole call: the
        helper's mask may be any other argument."""
        step = flow.step_of(call)
        if step is None:
            return
        rule: Rule = self  # type: ignore[assignment]
        for slot, value in call_slots(call):
            if slot == ANY_PARAM or literal(value):
                continue
            has = column_values(flow, value, step.index)
            if has:
                among = [str(v) for v in sorted(has)]
                rule.report_if(call, call, slot, KEPT_BY_CALLER, UNPROTECTED, [], among, True)
        rule.report_if(call, call, ANY_PARAM, KEPT_BY_CALLER, UNPROTECTED, at_callee=True)

    def defer_to_callers(
        self,
        flow: ScopeFlow,
        mask: cst.BaseExpression,
        keeps: bool,
        at: int,
        klass: str | None,
        report: tuple[cst.CSTNode, str, Fix | None],
    ) -> bool:
        """The fill masks a parameter of the function: its callers may have built it with
        a kept column; decided when the module is left. False: nothing to defer.
        ``keeps``: ``mask`` is True where keys are kept (``torch.where(keep, s, -inf)``)."""
        function = flow.scope
        if not isinstance(function, cst.FunctionDef):
            return False
        region = cst.UnaryOperation(cst.BitInvert(), mask) if keeps else mask
        kept = kept_values(flow, region, at, parameter_names(function) - {"self", "cls"})
        if not kept:
            return False
        self._deferred_masks.append(_Deferred(function, klass, kept, *report))
        return True

    def leave_Module(self, original_node: cst.Module) -> None:
        super().leave_Module(original_node)  # type: ignore[misc]
        self.decide_deferred(original_node)

    def decide_deferred(self, module: cst.Module) -> None:
        rule: Rule = self  # type: ignore[assignment]
        for item in self._deferred_masks:
            votes = list(_votes(module, item))
            message = item.message
            if not votes:
                if item.klass is None:  # callers in other checked modules may protect it
                    for param, value in item.kept.items():
                        rule.context.index.fact_at(
                            item.function, KEPT_BY_CALLER, param, item.anchor, str(value)
                        )
            elif all(ok for _, ok in votes):
                continue
            elif any(ok for _, ok in votes):
                name = next(name for name, ok in votes if not ok)
                message += f"; {name}, which calls it here, passes a mask that can mask a row whole"
            rule.report(item.anchor, message, fix=item.fix)
        self._deferred_masks.clear()


def _votes(module: cst.Module, item: _Deferred) -> Iterator[tuple[str, bool]]:
    """(caller, whether it passes a mask with a column the fill never masks) for each call
    of the helper in its module."""
    classes = {id(function): klass for function, klass in module_functions(module)}
    causal = causal_attributes(module)
    for caller, call in callers(module, item.function, item.klass, instances=True):
        if caller is item.function:
            continue  # a recursive call passes the helper's own mask on
        flow = scope_flow(caller)
        step = flow.step_of(call)
        arguments = bound_arguments(item.function, call)
        attributes = causal.get(classes.get(id(caller)), frozenset())
        ok = step is not None and any(
            value in column_values(flow, arguments[param], step.index)
            # a causal mask keeps the diagonal: ``attend(q, k, v, self.causal[:t, :t])``
            or never_empty_by_name(arguments[param], attributes)
            or _triangular_value(flow, arguments[param], step.index)
            for param, value in item.kept.items()
            if param in arguments
        )
        # ``attend(q, k, v)`` with ``mask=None``: no mask, nothing filled
        passed = set(item.kept) & arguments.keys()
        spread = any(arg.star for arg in call.args)  # ``*args`` / ``**kw``: may pass it
        ok = ok or (not passed and not spread and set(item.kept) <= _none_defaults(item.function))
        yield caller.name.value, ok


def _none_defaults(function: cst.FunctionDef) -> set[str]:
    params = function.params
    return {
        p.name.value
        for p in (*params.params, *params.kwonly_params)
        if isinstance(p.default, cst.Name) and p.default.value == "None"
    }


def _triangular_value(flow: ScopeFlow, expr: cst.BaseExpression, at: int) -> bool:
    """``torch.triu(...)``, or a name bound to one in the caller."""
    if triangular(expr):
        return True
    if isinstance(expr, cst.Name):
        return any(
            step.value is not None and triangular(step.value)
            for step in flow.definitions(expr.value, at)
        )
    return False
