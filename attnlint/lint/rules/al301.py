"""AL301 nan-masking: NaNs in scores, logits or the loss replaced on the way to the loss."""

from __future__ import annotations

from typing import Any

import libcst as cst

from attnlint.lint.flow import SCORE_TOKENS, ScopedRule, ScopeFlow, Step, bound_value
from attnlint.lint.helpers import call_arg
from attnlint.lint.nograd import NoGradScopes
from attnlint.lint.rule import RuleContext
from attnlint.lint.scrubs import CallerSide, scrubbed_params
from attnlint.lint.values import feeds_loss
from attnlint.lint.vocab import callee_last, contains, is_loss_scope, is_model_call, name_tokens

_NAN_TESTS = frozenset({"isnan", "isfinite", "isinf"})
_SANITISERS = frozenset({"nan_to_num", "nan_to_num_"})
_SCORE_OR_LOSS = SCORE_TOKENS | {"loss", "losses"}


_PROBABILITIES = frozenset({"softmax", "sigmoid", "exp", "normalize"})
_NOT_SCORES = frozenset({"prob", "probs", "probabilities", "p", "attn", "weights", "target"})


def is_scores(
    flow: ScopeFlow, expr: cst.BaseExpression, at: int, tokens: frozenset[str], depth: int = 6
) -> bool:
    """A model's output or a value named like one (``scores``, ``logits``, ...), followed
    back through the scope's assignments and the receivers/operands of the expressions
    that built it. A value that went through softmax/sigmoid is a probability, not a
    score, and stops the walk."""
    if depth <= 0:
        return False
    if isinstance(expr, cst.Call):
        if callee_last(expr) in _PROBABILITIES:
            return False
        if is_model_call(expr):
            return True
        # scores.float(), logits.view(...); F.log_softmax(logits): there the receiver is a
        # module and the value is the argument
        if isinstance(expr.func, cst.Attribute) and is_scores(
            flow, expr.func.value, at, tokens, depth - 1
        ):
            return True
        first = call_arg(expr, None, 0)
        return first is not None and is_scores(flow, first.value, at, tokens, depth - 1)
    found = name_tokens(expr)
    if found & tokens:
        return True
    if found & _NOT_SCORES and "log" not in found:
        return False  # log-probabilities (``log_probs``) are what a loss is built from
    if isinstance(expr, cst.BinaryOperation):
        return is_scores(flow, expr.left, at, tokens, depth - 1) or is_scores(
            flow, expr.right, at, tokens, depth - 1
        )
    if isinstance(expr, cst.UnaryOperation):
        return is_scores(flow, expr.expression, at, tokens, depth - 1)
    if isinstance(expr, cst.Name):
        for step in flow.definitions(expr.value, at):
            value = bound_value(step, expr.value)
            if (
                value is not None
                and not isinstance(step.node, cst.For | cst.WithItem)
                and is_scores(flow, value, step.index, tokens, depth - 1)
            ):
                return True
    return False


SCRUBS = "al301.scrubs"
_WHY = (
    "the NaN that should stop the run is turned into a constant with no gradient; find "
    "where it comes from instead"
)


def _holds_scores(flow: ScopeFlow, expr: cst.BaseExpression, at: int) -> bool:
    return is_scores(flow, expr, at, SCORE_TOKENS)


def _root_name(expr: cst.BaseExpression) -> str | None:
    while isinstance(expr, cst.Attribute | cst.Subscript):
        expr = expr.value
    return expr.value if isinstance(expr, cst.Name) else None


class NanMasking(NoGradScopes, CallerSide, ScopedRule):
    code = "AL301"
    name = "nan-masking"
    summary = "NaN/inf in scores, logits or the loss replaced before the loss or the step"
    # isnan and nan_to_num contain "nan"; "backward" and "loss": the caller of a helper
    # that scrubs (its pending finding needs the caller's file parsed)
    triggers = ("nan", "isfinite", "isinf", "backward", "loss")
    own_calls = _SANITISERS

    def __init__(self, context: RuleContext, options: Any | None = None) -> None:
        super().__init__(context, options)
        self.init_callers(SCRUBS, "replaced", _WHY)

    def visit_Call(self, node: cst.Call) -> None:
        if self.without_grad:
            return  # a metric or an evaluation pass: no loss is built there
        last = callee_last(node)
        if last in _SANITISERS or last in _NAN_TESTS:
            self.candidate(node)
        else:
            self.watch_call(node)

    def analyse(self, flow: ScopeFlow, nodes: list[cst.CSTNode], class_name: str | None) -> None:
        loss_scope = is_loss_scope(flow.scope, class_name)
        calls = [node for node in nodes if id(node) in self.calls]
        self.helpers.calls_in(flow, calls, loss_scope, _holds_scores)  # type: ignore[arg-type]
        for call in nodes:
            assert isinstance(call, cst.Call)
            step = flow.step_of(call)
            if step is None or id(call) in self.calls:
                continue
            found = self._sanitised(call, step)
            if found is None:
                continue
            anchor, value, names = found
            if is_scores(flow, value, step.index, _SCORE_OR_LOSS) and feeds_loss(
                flow, step, anchor, names, loss_scope, self.context.module
            ):
                self.report(
                    anchor,
                    "non-finite values in model outputs/scores are replaced on the way to the "
                    f"loss: {_WHY}",
                )
                continue
            params = scrubbed_params(flow, step, value, names)
            if params:  # a helper: its callers decide whether scores reach a loss
                self.helpers.scrub(flow, anchor, params, callee_last(call))

    def _sanitised(
        self, call: cst.Call, step: Step
    ) -> tuple[cst.CSTNode, cst.BaseExpression, set[str]] | None:
        """(node to report and follow, the value being cleaned, names holding the result)."""
        last = callee_last(call)
        qualname = self.context.qualname(call.func) or ""
        if qualname.startswith(("numpy.", "math.", "pandas.")):
            return None  # arrays and floats: no gradient to lose (result tables, metrics)
        if last in _SANITISERS:
            if qualname in ("torch.nan_to_num", "torch.nan_to_num_"):
                arg = call_arg(call, "input", 0)
                if arg is None:
                    return None
                in_place = _root_name(arg.value) if last.endswith("_") else None
                return call, arg.value, self._result_names(step, call, in_place)
            if not isinstance(call.func, cst.Attribute):
                return None
            value = call.func.value
            in_place = _root_name(value) if last.endswith("_") else None
            return call, value, self._result_names(step, call, in_place)
        # isnan / isfinite / isinf: only as the mask of a where / masked_fill / index fill
        tested = call_arg(call, "input", 0)
        if qualname.startswith("torch.") and tested is not None:
            value = tested.value
        elif isinstance(call.func, cst.Attribute) and not qualname.startswith("torch."):
            value = call.func.value
        else:
            return None
        for outer in step.calls:
            outer_last = callee_last(outer)
            mask = call_arg(outer, "condition" if outer_last == "where" else "mask", 0)
            if mask is None or not contains(mask.value, call):
                continue
            if outer_last == "where" and self.context.qualname(outer.func) == "torch.where":
                if len(outer.args) >= 3:
                    return outer, value, self._result_names(step, outer, None)
            elif outer_last in ("masked_fill", "masked_fill_") and isinstance(
                outer.func, cst.Attribute
            ):
                in_place = _root_name(outer.func.value) if outer_last.endswith("_") else None
                return outer, value, self._result_names(step, outer, in_place)
        node = step.node
        if isinstance(node, cst.Assign):  # x[torch.isnan(x)] = 0
            for target in node.targets:
                sub = target.target
                if isinstance(sub, cst.Subscript) and contains(sub, call):
                    root = _root_name(sub.value)
                    if root is not None:
                        return node, value, {root}
        return None

    @staticmethod
    def _result_names(step: Step, call: cst.CSTNode, in_place: str | None) -> set[str]:
        names = set(step.binds) if step.value is not None and contains(step.value, call) else set()
        if in_place is not None:
            names.add(in_place)
        return names
