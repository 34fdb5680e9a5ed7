"""AL401 unscaled-attention: softmax over raw q-k dot products."""

from __future__ import annotations

from typing import Any

import libcst as cst

from attnlint.lint.callers import (
    SCALED,
    SCALED_BY_CALLER,
    bound_arguments,
    callers,
    imported_helper,
    two_tensors,
)
from attnlint.lint.flow import ScopedRule, ScopeFlow, callee_last, scope_flow
from attnlint.lint.helpers import call_arg, parameter_names
from attnlint.lint.index import ANY_PARAM, RETURN, call_slots
from attnlint.lint.qkwalk import PRODUCTS, Operand, ScoresWalk, Walk
from attnlint.lint.rule import RuleContext

_SOFTMAX_FUNCTIONS = frozenset(
    {"torch.softmax", "torch.nn.functional.softmax", "torch.special.softmax"}
)


_MESSAGE = (
    "softmax over q @ k^T with no scaling: the logits grow like sqrt(d_head), the softmax "
    "saturates to one-hot and its gradient vanishes; divide by math.sqrt(d_head) or use "
    "F.scaled_dot_product_attention"
)


# Appended to the helper's finding when another caller scales (phase 2 renders it).
_UNSCALED = "{caller} passes q and k unscaled"

# A module-level function that returns an unscaled q-k product of its parameters.
RETURNS_PRODUCT = "al401.returns_product"
_REMOTE = (
    "softmax over the q @ k^T that {callee} returns, with no scaling there or here: the "
    "logits grow like sqrt(d_head), the softmax saturates to one-hot and its gradient "
    "vanishes; divide by math.sqrt(d_head) (in the helper or here) or use "
    "F.scaled_dot_product_attention"
)


class UnscaledAttention(ScopedRule):
    code = "AL401"
    name = "unscaled-attention"
    summary = "softmax over q @ k^T with no 1/sqrt(d) (or other) scaling on the way"
    # The scale words: a module that scales q before calling a helper of another module;
    # the attention words: one that calls it without scaling (it keeps the finding).
    triggers = ("softmax", "Softmax", "scal", "sqrt", "** -0.5", "**-0.5", "temperature")
    triggers += ("attn", "atten", "Attn", "Atten")
    # a helper that only returns the product (``def similarity(q, k)``), for its callers
    triggers += ("einsum", "matmul", "bmm", "transpose", ".mT")

    def __init__(self, context: RuleContext, options: Any | None = None) -> None:
        super().__init__(context, options)
        imports = context.index.summary.imports
        self.walk = ScoresWalk(
            context.qualname,
            context.module,
            lambda call: two_tensors(call) and imported_helper(call, imports),
        )
        self._products: set[int] = set()  # products in module-level functions
        self._producers: set[int] = set()  # ... and those functions
        self._deferred: list[tuple[cst.Call, cst.FunctionDef, str | None, set[str]]] = []
        self._outgoing: set[int] = set()  # calls of imported helpers (q and k, maybe)

    def visit_Call(self, node: cst.Call) -> None:
        if callee_last(node) in ("softmax", "Softmax") or (
            isinstance(node.func, cst.Call) and callee_last(node.func) == "Softmax"
        ):
            self.candidate(node)
        elif two_tensors(node) and imported_helper(node, self.context.index.summary.imports):
            self._outgoing.add(id(node))
            self.candidate(node)
        elif callee_last(node) in PRODUCTS:
            self._product_candidate(node)

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.MatrixMultiply):
            self._product_candidate(node)

    def _product_candidate(self, node: cst.CSTNode) -> None:
        """A product in a module-level function: it may return it to another module."""
        scope = self._scopes[-1][0] if len(self._scopes) == 2 else None
        if isinstance(scope, cst.FunctionDef) and id(scope) not in self._producers:
            self._producers.add(id(scope))  # one walk of its returns is enough
            self._products.add(id(node))
            self.candidate(node)

    def analyse(self, flow: ScopeFlow, nodes: list[cst.CSTNode], class_name: str | None) -> None:
        self.walk.klass = class_name
        for call in nodes:
            if id(call) in self._products:
                self._record_product(flow.scope)
                continue
            assert isinstance(call, cst.Call)
            if id(call) in self._outgoing:
                self._scaled_arguments(flow, call)
                continue
            step = flow.step_of(call)
            scores = self._softmax_input(call)
            if step is None or scores is None:
                continue
            walk = Walk()
            if call_arg(call, "scale", None) is not None:
                continue
            self.walk.scores(flow, scores, step.index, walk, 10)
            if walk.scaled:
                continue
            if not walk.products:
                self._remote_products(flow, call, step.index, walk.remote)
                continue
            scope = flow.scope
            params = (
                walk.roots & parameter_names(scope) if isinstance(scope, cst.FunctionDef) else set()
            )
            if params - {"self", "cls"}:
                # q or k is a parameter: a caller in this module may have scaled it
                assert isinstance(scope, cst.FunctionDef)
                self._deferred.append((call, scope, class_name, params - {"self", "cls"}))
            else:
                self.report(call, _MESSAGE)

    def leave_Module(self, original_node: cst.Module) -> None:
        super().leave_Module(original_node)
        for call, function, class_name, params in self._deferred:
            scaled = self._scaled_by_callers(original_node, function, class_name, params)
            if scaled is None and class_name is None:
                # No caller here: one in another checked module may scale (phase 2).
                for param in params:
                    self.context.index.fact_at(function, SCALED_BY_CALLER, param, call, SCALED)
            if not scaled:
                self.report(call, _MESSAGE)
        self._deferred.clear()

    def _record_product(self, function: cst.BaseSuite | cst.CSTNode) -> None:
        """The function returns an unscaled q-k product made of its parameters."""
        assert isinstance(function, cst.FunctionDef)
        returned = self.walk.returned(function)
        unscaled = returned.products and not (returned.scaled or returned.scaled_product)
        if unscaled and returned.roots & parameter_names(function):
            self.context.index.fact(function, RETURNS_PRODUCT, RETURN)

    def _remote_products(
        self, flow: ScopeFlow, softmax: cst.Call, at: int, calls: list[cst.Call]
    ) -> None:
        """The scores are another module's helper's result: unscaled if it returns an
        unscaled product and this call scales none of what it passes."""
        for call in calls:
            scaled = False
            for arg in call.args:
                operand = Operand()
                if not arg.star:
                    self.walk.operand(flow, arg.value, at, operand, 10)
                if operand.parameter or operand.scalar:  # ``project(h, self.emb.weight)``
                    break
                scaled = scaled or operand.scaled
            else:
                if not scaled:
                    self.report_if(softmax, call, RETURN, RETURNS_PRODUCT, _REMOTE)

    def _scaled_arguments(self, flow: ScopeFlow, call: cst.Call) -> None:
        """A call of an imported helper: its scaled arguments, or that it scales none, for
        the helper's finding if its softmax reads them as q or k (decided in phase 2:
        silent when every call scales q or k)."""
        step = flow.step_of(call)
        if step is None:
            return
        scaled = False
        for slot, value in call_slots(call):
            operand = Operand()
            if slot != ANY_PARAM and not isinstance(value, cst.BaseNumber | cst.BaseString):
                self.walk.operand(flow, value, step.index, operand, 10)
            if operand.scaled:
                scaled = True
                self.report_if(call, call, slot, SCALED_BY_CALLER, _UNSCALED, [], [SCALED], True)
        if not scaled:  # one for the whole call: any q or k of the helper
            self.report_if(call, call, ANY_PARAM, SCALED_BY_CALLER, _UNSCALED, at_callee=True)

    def _scaled_by_callers(
        self, module: cst.Module, function: cst.FunctionDef, klass: str | None, params: set[str]
    ) -> bool | None:
        """Every call of ``function`` in the module passes a scaled q or k (and there is
        at least one): ``attend(q * self.scale, k, v)``. None: no call in the module."""
        found: bool | None = None
        for caller, call in callers(module, function, klass):
            flow = scope_flow(caller)
            step = flow.step_of(call)
            if step is None:
                return False
            arguments = bound_arguments(function, call)
            scaled = False
            for param in params & arguments.keys():
                operand = Operand()
                self.walk.operand(flow, arguments[param], step.index, operand, 10)
                scaled = scaled or operand.scaled
            if not scaled:
                return False
            found = True
        return found

    def _softmax_input(self, call: cst.Call) -> cst.BaseExpression | None:
        func = call.func
        if isinstance(func, cst.Call):  # nn.Softmax(dim=-1)(scores)
            arg = call_arg(call, "input", 0)
            return arg.value if arg is not None else None
        qualname = self.context.qualname(func) or ""
        if qualname in _SOFTMAX_FUNCTIONS:
            arg = call_arg(call, "input", 0)
            return arg.value if arg is not None else None
        if not isinstance(func, cst.Attribute) or func.attr.value != "softmax":
            return None
        receiver = func.value
        root = receiver
        while isinstance(root, cst.Attribute):
            root = root.value
        if isinstance(root, cst.Name) and root.value == "self":  # self.softmax(scores)
            arg = call_arg(call, "input", 0)
            return arg.value if arg is not None else None
        if qualname.startswith("torch."):
            return None
        return receiver  # scores.softmax(dim=-1)

    # -- the walk back along the scores ----------------------------------------------
