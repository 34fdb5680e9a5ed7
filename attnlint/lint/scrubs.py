"""Scrubs one call away (AL301, AL302): a helper that cleans or clamps its parameter (or
its result) and a caller that hands it the model's scores and builds the loss from what
comes back.

In the helper, a scrub of a value derived from a parameter that reaches the return is a
fact on that parameter (``index.fact``); a scrubbed return value is a fact on
``RETURN``. At the call, the rule asks the project index whether the callee has the
fact (``report_if``). The finding points at the scrub (that is the line a user changes)
when the helper is in the same module or in another checked file, and at the call when
the helper's file is not checked (a finding belongs to a checked file); either way it
names the other end.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from attnlint.lint.backwards import differentiates
from attnlint.lint.flow import SCORE_TOKENS, ScopeFlow, Step, read_names
from attnlint.lint.helpers import parameter_names
from attnlint.lint.index import RETURN, FunctionSummary
from attnlint.lint.rule import Rule
from attnlint.lint.values import feeds_loss, is_backward
from attnlint.lint.vocab import (
    LOSS_TOKENS,
    callee_last,
    contains,
    is_loss_call,
    is_loss_scope,
    is_model_call,
    name_tokens,
)

# Calls whose callee is never a project helper.
_LIBRARIES = ("torch.", "numpy.", "math.", "np.", "F.", "nn.", "builtins.")
_BUILTINS = frozenset({"len", "float", "int", "print", "range", "zip", "enumerate", "list"})


@dataclass(slots=True)
class _Scrub:
    node: cst.CSTNode
    params: frozenset[str]  # parameters the scrubbed value comes from ("return" included)


@dataclass(slots=True)
class _Call:
    call: cst.Call
    slot: int | str  # position, keyword or RETURN
    node: cst.CSTNode  # where the finding goes when the helper is elsewhere
    caller: str  # "train_step" / "<module>"


def scrubbed_params(
    flow: ScopeFlow, step: Step, value: cst.BaseExpression, names: set[str]
) -> frozenset[str]:
    """The parameters (and ``RETURN``) a scrub of ``value`` at ``step`` acts on for the
    function's callers: parameters ``value`` is derived from, when the scrubbed result
    (``names``, or the step itself) reaches a ``return``; ``RETURN`` alone for a value
    named like a loss."""
    scope = flow.scope
    if not isinstance(scope, cst.FunctionDef):
        return frozenset()
    returned = isinstance(step.node, cst.Return)
    if not returned:
        returned = any(isinstance(s.node, cst.Return) for s, _ in flow.forward(names, step.index))
    if not returned:
        return frozenset()
    if name_tokens(value) & LOSS_TOKENS:
        return frozenset({RETURN})  # ``return torch.nan_to_num(loss)``: the caller's loss
    exprs, _ = flow.origins(value, step.index)
    read: set[str] = set()
    for expr in exprs:
        read |= read_names(expr)
    return frozenset((read & parameter_names(scope)) - {"self", "cls"})


def is_candidate_call(call: cst.Call, target: cst.BaseExpression | None = None) -> bool:
    """A call that may hand scores to a project helper: an argument named like scores, a
    forward pass (``soft_rank(model(x))``), or a result bound to a loss (``loss = f(b)``)."""
    func = call.func
    if target is not None:
        return bool(name_tokens(target) & LOSS_TOKENS)
    if isinstance(func, cst.Name) and func.value in _BUILTINS:
        return False
    for arg in call.args:
        value = _receiver(arg.value)
        if isinstance(value, cst.Call) and is_model_call(value):
            return True
        if name_tokens(value) & SCORE_TOKENS:
            return True
    return False


_REDUCTIONS = frozenset({"mean", "sum"})


def _loss_terms(expr: cst.BaseExpression) -> list[cst.Call]:
    """The calls whose results an expression adds up: the expression itself, the operands
    of its arithmetic and the receiver of a final ``.mean()`` / ``.sum()``, not calls
    nested in arguments (``w * f(x)`` holds ``f(x)``; ``g(f(x))`` holds ``g(...)`` only)."""
    found: list[cst.Call] = []
    stack = [expr]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.BinaryOperation):
            stack += [current.right, current.left]
        elif isinstance(current, cst.UnaryOperation):
            stack.append(current.expression)
        elif isinstance(current, cst.Call):
            func = current.func
            if (
                isinstance(func, cst.Attribute)
                and func.attr.value in _REDUCTIONS
                and isinstance(func.value, cst.Call)
            ):
                stack.append(func.value)
            else:
                found.append(current)
    return found


def _receiver(value: cst.BaseExpression) -> cst.BaseExpression:
    """The value a reshaping or a slice starts from: ``preds.squeeze(-1)``,
    ``logits.float()[:, 0]`` -> ``preds`` / ``logits`` (a forward pass stays one)."""
    for _ in range(4):
        if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute):
            if is_model_call(value):
                break
            value = value.func.value
        elif isinstance(value, cst.Subscript):
            value = value.value
        else:
            break
    return value


class HelperScrubs:
    """Collects scrubs in helpers and calls to helpers for one module; ``flush`` at the
    end of the module turns them into conditional findings."""

    def __init__(self, rule: Rule, fact: str, what: str, why: str) -> None:
        self.rule = rule
        self.fact = fact
        self.what = what  # "replaced with nan_to_num" / "clamped"
        self.why = why  # what that does to training
        self.scrubs: dict[str, list[_Scrub]] = {}  # helper's name -> its scrubs
        self.calls: list[_Call] = []

    def scrub(
        self, flow: ScopeFlow, node: cst.CSTNode, params: frozenset[str], detail: str
    ) -> None:
        scope = flow.scope
        assert isinstance(scope, cst.FunctionDef)
        for param in params:
            # With its position: a caller in another checked module reports here.
            self.rule.context.index.fact_at(scope, self.fact, param, node, detail)
        self.scrubs.setdefault(scope.name.value, []).append(_Scrub(node, params))

    def calls_in(
        self, flow: ScopeFlow, calls: list[cst.Call], loss_scope: bool, is_scores: object
    ) -> None:
        """Calls of this scope whose result reaches the loss: each argument that holds the
        model's scores is a slot to ask about, and so is the return value."""
        index = self.rule.context.index
        for call in dict.fromkeys(calls):  # a call may be a candidate twice
            step = flow.step_of(call)
            callee = index.callee(call)
            if step is None or callee is None or callee.startswith(_LIBRARIES):
                continue
            names = (
                set(step.binds) if step.value is not None and contains(step.value, call) else set()
            )
            if not feeds_loss(flow, step, call, names, loss_scope, self.rule.context.module):
                continue
            scope = flow.scope
            caller = scope.name.value if isinstance(scope, cst.FunctionDef) else "<module>"
            position = 0
            for arg in call.args:
                if arg.star:
                    break
                slot: int | str = arg.keyword.value if arg.keyword is not None else position
                if arg.keyword is None:
                    position += 1
                if is_scores(flow, arg.value, step.index):  # type: ignore[operator]
                    self.calls.append(_Call(call, slot, arg.value, caller))
            self.calls.append(_Call(call, RETURN, call, caller))

    def _local_scrub(
        self,
        by_name: dict[str, list[FunctionSummary]],
        name: str,
        slot: int | str,
        through_attribute: bool,
        depth: int,
    ) -> _Scrub | None:
        """The scrub in this module that a call of ``name`` at ``slot`` reaches: in the
        function itself, or in one it hands the parameter on to (the index's ``flows``) or
        returns the result of. ``by_name``: the module's functions by their last name."""
        if depth <= 0:
            return None
        for summary in by_name.get(name, ()):
            param = _param(summary, slot, through_attribute)
            if param is None:
                continue
            for scrub in self.scrubs.get(name, ()):
                if param in scrub.params:
                    return scrub
            onward: list[tuple[str, int | str]] = [
                (callee, RETURN) for callee in summary.returns if param == RETURN
            ]
            onward += [
                (flow.callee, int(flow.slot) if flow.slot.isdigit() else flow.slot)
                for flow in summary.flows
                if flow.param == param
            ]
            for callee, next_slot in onward:
                last = callee.rsplit(".", 1)[-1]
                found = self._local_scrub(by_name, last, next_slot, "." in callee, depth - 1)
                if found is not None:
                    return found
        return None

    def flush(self) -> None:
        done: set[object] = set()  # one finding per scrub, or per helper slot elsewhere
        index = self.rule.context.index
        # Once per module: a lookup by name for every call would make the module quadratic.
        by_name: dict[str, list[FunctionSummary]] = {}
        if self.calls:
            for qualified, summary in index.summary.functions.items():
                by_name.setdefault(qualified.rsplit(".", 1)[-1], []).append(summary)
        for item in self.calls:
            through = isinstance(item.call.func, cst.Attribute)
            scrub = self._local_scrub(by_name, callee_last(item.call), item.slot, through, 3)
            if scrub is not None:
                if id(scrub.node) in done:
                    continue
                done.add(id(scrub.node))
                node = scrub.node
                message = self._inside(item.slot, item.caller)
            else:
                key = (index.callee(item.call), item.slot)
                if key in done:
                    continue
                done.add(key)
                node = item.node
                # At the scrub when the helper's file is checked too (phase 2 keeps this
                # one only then); the finding at the call below is for when it is not.
                self.rule.report_if(
                    node,
                    item.call,
                    item.slot,
                    self.fact,
                    self._inside(item.slot, "{caller}"),
                    at_callee=True,
                )
                if item.slot == RETURN:
                    message = (
                        f"{{callee}} returns its result {self.what} (`{{detail}}`), and the "
                        f"loss is built from it here: {self.why}"
                    )
                else:
                    message = (
                        f"the scores passed here are {self.what} inside {{callee}} "
                        f"(`{{detail}}`), and the loss is built from the result: {self.why}"
                    )
            self.rule.report_if(node, item.call, item.slot, self.fact, message)
        self.scrubs.clear()
        self.calls.clear()

    def _inside(self, slot: int | str, caller: str) -> str:
        """The message of a finding at the scrub inside the helper."""
        if slot == RETURN:
            return (
                f"the result of {{callee}} is {self.what} here (`{{detail}}`), and "
                f"{caller} uses it as the loss: {self.why}"
            )
        return (
            f"the scores {caller} passes to {{callee}} are {self.what} here "
            f"(`{{detail}}`), and the loss is built from the result: {self.why}"
        )


def _param(summary: FunctionSummary, slot: int | str, through_attribute: bool) -> str | None:
    """The parameter of ``summary`` a call fills at ``slot`` (``self`` skipped for a call
    through an attribute)."""
    if slot == RETURN:
        return RETURN
    if isinstance(slot, str):
        return slot if slot in summary.params else None
    params = [p for p in summary.params if not p.startswith("*")]
    if summary.klass is not None and not summary.static and through_attribute:
        params = params[1:]
    return params[slot] if slot < len(params) else None


class CallerSide:
    """The caller half, mixed into AL301/AL302 before ``ScopedRule``: calls that may hand
    scores to a helper become candidates only in scopes that compute a loss (a loss call,
    ``.backward()``, a loss function), so model code builds no flows for them."""

    helpers: HelperScrubs
    calls: set[int]  # ids of the candidates that are helper calls
    # the rule's own scrubbing methods: ``loss = loss.nan_to_num()`` is a scrub, not a call
    # of a helper that might scrub
    own_calls: frozenset[str] = frozenset()

    def init_callers(self, fact: str, what: str, why: str) -> None:
        self.helpers = HelperScrubs(self, fact, what, why)  # type: ignore[arg-type]
        self.calls = set()
        self._side: dict[int, list[cst.Call]] = {}
        self._signal: set[int] = set()
        self._mentions_backward: bool | None = None

    def _scope_id(self) -> int:
        scopes = self._scopes  # type: ignore[attr-defined]
        return id(scopes[-1][0]) if scopes else 0

    def watch_call(self, node: cst.Call) -> None:
        if is_loss_call(node) or is_backward(node) or self._hands_to_backward(node):
            self._signal.add(self._scope_id())
        if is_candidate_call(node):
            self._side.setdefault(self._scope_id(), []).append(node)

    def _hands_to_backward(self, node: cst.Call) -> bool:
        """``self._update(loss)``, with the backward there (a module without the word has
        no such function: not worth a walk of its functions)."""
        context = self.helpers.rule.context
        if self._mentions_backward is None:
            self._mentions_backward = "backward" in context.source
        return self._mentions_backward and differentiates(context.module, node)

    def visit_Assign(self, node: cst.Assign) -> None:
        # ``loss = f(out, y)``, also as a term of the loss (``loss = f(out, y) + 0.5 * g(out,
        # y)``, ``f(out, y).mean()``): a call whose result is the loss may be a helper's
        for value in _loss_terms(node.value):
            # ``loss = torch.nan_to_num(loss)`` is the rule's own business, not a helper call
            if callee_last(value) in self.own_calls:
                continue
            callee = self.helpers.rule.context.index.callee(value) or ""
            if not callee.startswith(_LIBRARIES) and any(
                is_candidate_call(value, t.target) for t in node.targets
            ):
                self._side.setdefault(self._scope_id(), []).append(value)

    def _promote(self, scope: cst.FunctionDef | cst.Module) -> None:
        side = self._side.pop(id(scope), None)
        scopes = self._scopes  # type: ignore[attr-defined]
        klass = scopes[-1][1] if scopes else None
        if side and (id(scope) in self._signal or is_loss_scope(scope, klass)):
            for node in side:
                self.calls.add(id(node))
                self._found.setdefault(id(scope), []).append(node)  # type: ignore[attr-defined]

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._promote(original_node)
        super().leave_FunctionDef(original_node)  # type: ignore[misc]

    def leave_Module(self, original_node: cst.Module) -> None:
        self._promote(original_node)
        super().leave_Module(original_node)  # type: ignore[misc]
        self.helpers.flush()
