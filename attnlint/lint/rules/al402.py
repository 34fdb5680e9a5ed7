"""AL402 masked-softmax-nan: -inf fill then softmax, where a fully masked row is NaN."""

from __future__ import annotations

from typing import Any

import libcst as cst

from attnlint.lint.callers import bound_arguments, callee
from attnlint.lint.causalnames import causal_attributes, never_empty_by_name
from attnlint.lint.diagnostic import Edit, Fix
from attnlint.lint.fillcalls import FillCalls
from attnlint.lint.flow import ScopedRule, ScopeFlow, Step, read_names, scope_flow
from attnlint.lint.helpers import call_arg, is_number_literal
from attnlint.lint.keptcolumns import never_empty
from attnlint.lint.maskcallers import MaskCallers
from attnlint.lint.masks import leak, on_empty_row, polarity
from attnlint.lint.rule import RuleContext, dotted_name
from attnlint.lint.shadowing import module_alias
from attnlint.lint.vocab import callee_last, contains
from attnlint.lint.walk import walk

_INF_MODULES = ("math.inf", "torch.inf", "numpy.inf", "np.inf")
_ROW_CHECKS = frozenset({"all", "any"})
_FILLED = frozenset({"full", "full_like", "new_full", "tensor", "as_tensor", "scalar_tensor"})
_CHECK_CALLS = frozenset({"_assert", "_check", "check", "assert_"})
_MESSAGE = (
    "masked with -inf and then softmaxed: a row whose keys are all masked (an empty list, "
    "a padded query) gives exp(-inf)/0 = NaN that spreads to the loss; fill with "
    "torch.finfo(dtype).min or guard fully masked rows"
)


def _softmax_call(call: cst.Call) -> bool:
    last = callee_last(call)
    if last in ("softmax", "log_softmax"):
        return True
    return isinstance(call.func, cst.Call) and callee_last(call.func) in ("Softmax", "LogSoftmax")


class MaskedSoftmaxNan(MaskCallers, FillCalls, ScopedRule):
    code = "AL402"
    name = "masked-softmax-nan"
    summary = "masked_fill(-inf) then softmax: a fully masked row becomes NaN"
    # "softmax": the caller of a helper that returns -inf filled scores; the mask words:
    # the caller of a helper that fills the mask it is handed
    triggers = ("inf", "Inf", "INF", "softmax", "Softmax", "mask", "pad", "valid", "keep")

    def __init__(self, context: RuleContext, options: Any | None = None) -> None:
        super().__init__(context, options)
        self.init_fills()
        self.init_mask_callers()

    def visit_Call(self, node: cst.Call) -> None:
        if callee_last(node) in ("masked_fill", "masked_fill_", "where"):
            self.candidate(node)
        else:
            self.watch_call(node)
            if self.watch_outgoing(node):
                self.candidate(node)

    def visit_Assign(self, node: cst.Assign) -> None:
        if any(isinstance(t.target, cst.Subscript) for t in node.targets):
            self.candidate(node)

    def analyse(self, flow: ScopeFlow, nodes: list[cst.CSTNode], class_name: str | None) -> None:
        calls = [node for node in nodes if id(node) in self.fill_calls]
        self.fill_callers(flow, calls, self._reaches_softmax)  # type: ignore[arg-type]
        for call in {id(n): n for n in nodes if id(n) in self.outgoing_calls}.values():
            self.record_outgoing(flow, call)  # type: ignore[arg-type]
        for node in nodes:
            if id(node) in self.fill_calls or id(node) in self.outgoing_calls:
                continue
            found = self._fill(flow, node)
            if found is None:
                continue
            step, anchor, tensor, mask, fill, names = found
            if not self._neg_inf(flow, fill, step.index):
                continue
            if (
                self._causal(flow, mask, step.index, class_name)
                or never_empty(flow, mask, step.index)
                or _row_relative(flow, tensor, mask, step)
            ):
                continue
            softmax = self._reaches_softmax(flow, step, anchor, names)
            if softmax is None:
                self.returned_fill(flow, step, anchor, names)
                continue
            soft_step, soft_call = softmax
            # torch.where(valid, scores, -inf): the condition is True where keys are kept
            kept = (
                isinstance(anchor, cst.Call)
                and callee_last(anchor) == "where"
                and anchor.args[1].value is tensor
            )
            known = polarity(flow, mask, step.index, not kept)
            if (
                _checked(flow, known, self.context.module, class_name)
                or leak(flow, soft_step, soft_call, known) is None
            ):
                continue
            found_here = (anchor, _MESSAGE, self._fix(flow, tensor, fill))
            if not self.defer_to_callers(flow, mask, kept, step.index, class_name, found_here):
                self.report(*found_here)

    # -- the fill ---------------------------------------------------------------------

    def _fill(
        self, flow: ScopeFlow, node: cst.CSTNode
    ) -> (
        tuple[
            Step,
            cst.CSTNode,
            cst.BaseExpression,
            cst.BaseExpression,
            cst.BaseExpression,
            set[str],
        ]
        | None
    ):
        """(step, node to report, masked tensor, mask, fill value, names holding the result)."""
        if isinstance(node, cst.Assign):  # scores[mask] = float("-inf")
            target = next(t.target for t in node.targets if isinstance(t.target, cst.Subscript))
            assert isinstance(target, cst.Subscript)
            step = next((s for s in flow.steps if s.node is node), None)
            if step is None or len(target.slice) != 1:
                return None
            index = target.slice[0].slice
            name = dotted_name(target.value)
            if not isinstance(index, cst.Index) or name is None:
                return None
            # self.logits[m] = ...: followed by its full dotted name, not by ``self``
            return step, node, target.value, index.value, node.value, {name}
        assert isinstance(node, cst.Call)
        step = flow.step_of(node)
        if step is None:
            return None
        names = set(step.binds) if step.value is not None and contains(step.value, node) else set()
        last = callee_last(node)
        if last == "where":
            if self.context.qualname(node.func) != "torch.where" or len(node.args) != 3:
                return None
            mask, first, second = (arg.value for arg in node.args)
            if self._neg_inf(flow, second, step.index):
                return step, node, first, mask, second, names
            return step, node, second, mask, first, names
        if not isinstance(node.func, cst.Attribute):
            return None
        mask_arg = call_arg(node, "mask", 0)
        value_arg = call_arg(node, "value", 1)
        if mask_arg is None or value_arg is None:
            return None
        tensor = node.func.value
        if last.endswith("_") and isinstance(tensor, cst.Name):
            names.add(tensor.value)
        return step, node, tensor, mask_arg.value, value_arg.value, names

    def _neg_inf(self, flow: ScopeFlow, node: cst.BaseExpression, at: int, depth: int = 3) -> bool:
        """``float("-inf")``, ``-float("inf")``, ``-math.inf``, ``-torch.inf``, ``-np.inf``,
        or a name bound to one in this scope or at module level."""
        if isinstance(node, cst.Call) and callee_last(node) == "float" and len(node.args) == 1:
            text = node.args[0].value
            if isinstance(text, cst.SimpleString):
                value = str(text.evaluated_value).strip().lower()
                return value in ("-inf", "-infinity")
            return False
        if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
            return self._pos_inf(node.expression)
        if isinstance(node, cst.Call) and callee_last(node) in _FILLED and depth > 0:
            # torch.full_like(s, -inf), torch.tensor(-inf): a tensor of -inf
            return any(
                self._neg_inf(flow, arg.value, at, depth - 1)
                for arg in node.args
                if arg.keyword is None or arg.keyword.value == "fill_value"
            )
        if isinstance(node, cst.Name) and depth > 0:
            defs = flow.definitions(node.value, at)
            if defs:
                return all(
                    s.value is not None and self._neg_inf(flow, s.value, s.index, depth - 1)
                    for s in defs
                )
            return self._module_constant(node.value)
        return False

    def _pos_inf(self, node: cst.BaseExpression) -> bool:
        if isinstance(node, cst.Call) and callee_last(node) == "float" and len(node.args) == 1:
            text = node.args[0].value
            return isinstance(text, cst.SimpleString) and str(
                text.evaluated_value
            ).strip().lower() in ("inf", "infinity", "+inf")
        qualname = self.context.qualname(node) or ""
        return qualname in _INF_MODULES

    def _module_constant(self, name: str) -> bool:
        for stmt in self.context.module.body:
            if not isinstance(stmt, cst.SimpleStatementLine):
                continue
            for small in stmt.body:
                if (
                    isinstance(small, cst.Assign)
                    and len(small.targets) == 1
                    and isinstance(small.targets[0].target, cst.Name)
                    and small.targets[0].target.value == name
                ):
                    value = small.value
                    if isinstance(value, cst.UnaryOperation):
                        return isinstance(value.operator, cst.Minus) and self._pos_inf(
                            value.expression
                        )
                    return (
                        isinstance(value, cst.Call)
                        and callee_last(value) == "float"
                        and len(value.args) == 1
                        and isinstance(value.args[0].value, cst.SimpleString)
                        and str(value.args[0].value.evaluated_value).strip().lower()
                        in ("-inf", "-infinity")
                    )
        return False

    # -- where the filled scores go ---------------------------------------------------

    def _causal(
        self, flow: ScopeFlow, mask: cst.BaseExpression, at: int, klass: str | None
    ) -> bool:
        exprs, _ = flow.origins(mask, at, depth=4)
        module = self.context.module
        found = self.context.facts.once("al402-causal", module, lambda: causal_attributes(module))
        causal = found.get(klass, frozenset())
        return any(never_empty_by_name(expr, causal) for expr in exprs)

    def _reaches_softmax(
        self, flow: ScopeFlow, step: Step, anchor: cst.CSTNode, names: set[str]
    ) -> tuple[Step, cst.Call] | None:
        for call in step.calls:
            if _softmax_call(call) and contains(call, anchor) and call is not anchor:
                return step, call
        dotted = {name for name in names if "." in name}
        for later in flow.steps[step.index + 1 :] if dotted else ():
            for call in later.calls:
                if _softmax_call(call) and _attribute_chains(call) & dotted:
                    return later, call
        for later, used in flow.forward(names - dotted, step.index):
            for call in later.calls:
                if _softmax_call(call) and self._reads(call, used):
                    return later, call
            if any(_finite_again(call, used) for call in later.calls):
                return None  # the -inf is replaced by a finite value before the softmax
        return None

    @staticmethod
    def _reads(call: cst.Call, names: frozenset[str]) -> bool:
        if isinstance(call.func, cst.Attribute) and read_names(call.func.value) & names:
            return True
        return any(read_names(arg.value) & names for arg in call.args)

    # -- the fix ----------------------------------------------------------------------

    def _fix(
        self, flow: ScopeFlow, tensor: cst.BaseExpression, fill: cst.BaseExpression
    ) -> Fix | None:
        name = dotted_name(tensor)
        # resolved where the fill is: ``def f(torch): ...`` shadows the module
        scopes = [flow.scope, *(scope for scope, _ in reversed(self._scopes))]
        torch_alias = module_alias(self.context.module, self.context.imports, scopes)
        if name is None or torch_alias is None:
            return None
        return Fix(
            f"fill with {torch_alias}.finfo({name}.dtype).min instead of -inf",
            (Edit(fill, f"{torch_alias}.finfo({name}.dtype).min"),),
        )


def _attribute_chains(expr: cst.CSTNode) -> set[str]:
    """Every dotted ``a.b.c`` chain inside ``expr``."""
    chains = (dotted_name(n) for n in walk(expr) if isinstance(n, cst.Attribute))
    return {name for name in chains if name is not None}


def _checked(
    flow: ScopeFlow, known: dict[str, bool], module: cst.Module, klass: str | None, depth: int = 2
) -> bool:
    """An assert (or ``if ...: raise``, ``torch._assert``) that every row keeps a valid
    key: a test over the mask with ``.any`` / ``.all`` that is False on a fully masked
    row, so the program stops there; also such a check in a helper of this module that
    the mask is passed to. Any other ``.any()`` is not a guard."""
    for step in flow.steps:
        if depth > 1 and _checked_by_helper(flow, step, known, module, klass, depth):
            return True
        node = step.node
        if isinstance(node, cst.Assert):
            tests = [node.test]
        elif isinstance(node, cst.If) and _raises(node):
            tests = [cst.UnaryOperation(cst.Not(), node.test)]
        else:
            tests = [
                call.args[0].value
                for call in step.calls
                if callee_last(call) in _CHECK_CALLS and call.args
            ]
        for test in tests:
            if not any(
                callee_last(c) in _ROW_CHECKS for c in walk(test) if isinstance(c, cst.Call)
            ):
                continue
            if on_empty_row(flow, test, step.index, known) is False:
                return True
    return False


def _checked_by_helper(
    flow: ScopeFlow,
    step: Step,
    known: dict[str, bool],
    module: cst.Module,
    klass: str | None,
    depth: int,
) -> bool:
    """``self._check_rows(mask)``: a function of this module that checks the mask."""
    for call in step.calls:
        function = callee(module, call, klass)
        if function is None or function is flow.scope:
            continue
        passed: dict[str, bool] = {}
        for param, arg in bound_arguments(function, call).items():
            value = on_empty_row(flow, arg, step.index, known)
            if value is not None:
                passed[param] = value
        if passed and _checked(scope_flow(function), passed, module, klass, depth - 1):
            return True
    return False


def _raises(node: cst.If) -> bool:
    body = node.body.body
    first = body[0] if isinstance(body, tuple | list) and body else None
    if isinstance(first, cst.SimpleStatementLine):
        return any(isinstance(small, cst.Raise) for small in first.body)
    return False


def _finite_again(call: cst.Call, live: frozenset[str]) -> bool:
    """A cleanup of the filled scores before the softmax: ``torch.nan_to_num(s)`` (-inf
    becomes the most negative float), ``s.clamp(min=...)``, ``torch.maximum(s, m)``."""
    last = callee_last(call)
    receiver = call.func.value if isinstance(call.func, cst.Attribute) else None
    reads = read_names(receiver) if receiver is not None else set()
    if call.args:
        reads |= read_names(call.args[0].value)
    if not reads & live:
        return False
    if last in ("nan_to_num", "nan_to_num_", "clamp_min", "maximum"):
        return True
    if last in ("clamp", "clamp_", "clip"):
        return call_arg(call, "min", 0 if receiver is not None else 1) is not None
    # torch.max(s, floor) is elementwise; torch.max(s, -1) reduces over a dim
    args = call.args
    return (
        last == "max"
        and len(args) == 2
        and args[1].keyword is None
        and not is_number_literal(args[1].value)
    )


def _row_relative(
    flow: ScopeFlow, tensor: cst.BaseExpression, mask: cst.BaseExpression, step: Step
) -> bool:
    """A mask built from the filled tensor's own row maximum (``(s.max(-1) - s) > t``,
    sparse mixers): the maximum is never masked, so no row is empty."""
    root = dotted_name(tensor)
    if root is None:
        return False
    exprs, _ = flow.origins(mask, step.index, depth=4)
    for expr in exprs:
        for call in walk(expr):
            if isinstance(call, cst.Call) and callee_last(call) in ("max", "amax"):
                func = call.func
                target = func.value if isinstance(func, cst.Attribute) else None
                if target is None or dotted_name(target) in ("torch", "th"):
                    target = call.args[0].value if call.args else None
                if target is not None and dotted_name(target) == root:
                    return True
    return False
