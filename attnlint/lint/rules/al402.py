"""AL402 masked-softmax-nan: -inf fill then softmax, where a fully masked row is NaN."""

from __future__ import annotations

import libcst as cst

from attnlint.lint.diagnostic import Edit, Fix
from attnlint.lint.flow import ScopedRule, ScopeFlow, Step, read_names
from attnlint.lint.helpers import call_arg
from attnlint.lint.rule import dotted_name
from attnlint.lint.shadowing import module_alias
from attnlint.lint.vocab import callee_last, contains, name_tokens
from attnlint.lint.walk import walk

_INF_MODULES = ("math.inf", "torch.inf", "numpy.inf", "np.inf")
# Masks that never hide a whole row: causal ones (the diagonal stays visible) and the
# top-k / top-p filters of sampling code (the best token always survives).
_NEVER_EMPTY = frozenset(
    {
        "causal", "tril", "triu", "bias", "subsequent", "future", "autoregressive", "diag",
        "topk", "top", "remove", "cumsum",
    }
)  # fmt: skip
_POST_GUARDS = frozenset({"nan_to_num", "nan_to_num_", "masked_fill", "masked_fill_", "where"})
_ROW_CHECKS = frozenset({"all", "any"})


def _softmax_call(call: cst.Call) -> bool:
    last = callee_last(call)
    if last in ("softmax", "log_softmax"):
        return True
    return isinstance(call.func, cst.Call) and callee_last(call.func) in ("Softmax", "LogSoftmax")


class MaskedSoftmaxNan(ScopedRule):
    code = "AL402"
    name = "masked-softmax-nan"
    summary = "masked_fill(-inf) then softmax: a fully masked row becomes NaN"
    triggers = ("inf", "Inf", "INF")

    def visit_Call(self, node: cst.Call) -> None:
        if callee_last(node) in ("masked_fill", "masked_fill_", "where"):
            self.candidate(node)

    def visit_Assign(self, node: cst.Assign) -> None:
        if any(isinstance(t.target, cst.Subscript) for t in node.targets):
            self.candidate(node)

    def analyse(self, flow: ScopeFlow, nodes: list[cst.CSTNode], class_name: str | None) -> None:
        for node in nodes:
            found = self._fill(flow, node)
            if found is None:
                continue
            step, anchor, tensor, mask, fill, names = found
            if not self._neg_inf(flow, fill, step.index):
                continue
            if self._causal(flow, mask, step.index):
                continue
            softmax = self._reaches_softmax(flow, step, anchor, names)
            if softmax is None:
                continue
            soft_step, soft_call = softmax
            if self._guarded(flow, soft_step, soft_call, mask):
                continue
            self.report(
                anchor,
                "masked with -inf and then softmaxed: a row whose keys are all masked "
                "(an empty list, a padded query) gives exp(-inf)/0 = NaN that spreads to "
                "the loss; fill with torch.finfo(dtype).min or guard fully masked rows",
                fix=self._fix(flow, tensor, fill),
            )

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

    def _causal(self, flow: ScopeFlow, mask: cst.BaseExpression, at: int) -> bool:
        exprs, _ = flow.origins(mask, at, depth=4)
        for expr in exprs:
            for name in read_names(expr) | _attribute_names(expr):
                if set(name.lower().split("_")) & _NEVER_EMPTY:
                    return True
        return False

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
        return None

    @staticmethod
    def _reads(call: cst.Call, names: frozenset[str]) -> bool:
        if isinstance(call.func, cst.Attribute) and read_names(call.func.value) & names:
            return True
        return any(read_names(arg.value) & names for arg in call.args)

    def _guarded(
        self, flow: ScopeFlow, step: Step, softmax: cst.Call, mask: cst.BaseExpression
    ) -> bool:
        """A fully masked row is handled: the probabilities are cleaned after the softmax,
        or the mask is checked for rows with no valid key."""
        for call in step.calls:
            if (
                call is not softmax
                and callee_last(call) in _POST_GUARDS
                and contains(call, softmax)
            ):
                return True
        result = (
            set(step.binds) if step.value is not None and contains(step.value, softmax) else set()
        )
        if result:
            for later, _used in flow.forward(result, step.index):
                if any(callee_last(call) in _POST_GUARDS for call in later.calls):
                    return True
        mask_names = read_names(mask)
        for other in flow.steps:
            if isinstance(other.node, cst.Assert) and other.reads & mask_names:
                return True
            for call in other.calls:
                if (
                    callee_last(call) in _ROW_CHECKS
                    and isinstance(call.func, cst.Attribute)
                    and read_names(call.func.value) & mask_names
                ):
                    return True
                if callee_last(call) in _ROW_CHECKS and any(
                    read_names(arg.value) & mask_names for arg in call.args
                ):
                    return True
        return False

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


def _attribute_names(expr: cst.CSTNode) -> set[str]:
    """Attribute names and called names in ``expr`` (``self.causal_mask``, ``torch.tril``)."""
    found = {n.attr.value for n in walk(expr) if isinstance(n, cst.Attribute)}
    return found | name_tokens(expr)


def _attribute_chains(expr: cst.CSTNode) -> set[str]:
    """Every dotted ``a.b.c`` chain inside ``expr``."""
    chains = (dotted_name(n) for n in walk(expr) if isinstance(n, cst.Attribute))
    return {name for name in chains if name is not None}
