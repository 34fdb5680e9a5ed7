"""AL302 score-clamp: scores or logits clamped on their way into the loss."""

from __future__ import annotations

from typing import Any

import libcst as cst

from attnlint.lint.flow import SCORE_TOKENS, ScopedRule, ScopeFlow, Step, read_names
from attnlint.lint.helpers import call_arg, is_number_literal
from attnlint.lint.nograd import NoGradScopes
from attnlint.lint.rule import RuleContext
from attnlint.lint.rules.al301 import is_scores
from attnlint.lint.scrubs import CallerSide, scrubbed_params
from attnlint.lint.values import feeds_loss
from attnlint.lint.vocab import callee_last, contains, is_loss_scope

_CLAMPS = frozenset({"clamp", "clamp_", "clip", "clip_"})
_LOG_CALLS = frozenset({"log", "log_", "log2", "log10", "log1p"})


def _literal_value(node: cst.BaseExpression) -> float | None:
    if not is_number_literal(node):
        return None
    sign = (
        -1.0
        if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus)
        else 1.0
    )
    inner = node.expression if isinstance(node, cst.UnaryOperation) else node
    assert isinstance(inner, cst.Integer | cst.Float)
    return sign * float(inner.evaluated_value)


def _probability_bounds(low: cst.Arg | None, high: cst.Arg | None) -> bool:
    """Bounds inside [0, 1]: ``(1e-7, 1 - 1e-7)``, ``(eps, 1.0 - eps)``, ``(0, 1)``."""
    if high is None:
        return False
    top = high.value
    if isinstance(top, cst.BinaryOperation) and isinstance(top.operator, cst.Subtract):
        one = _literal_value(top.left)
        if one == 1.0:
            return True
    ceiling = _literal_value(top)
    floor = _literal_value(low.value) if low is not None else None
    return ceiling is not None and 0.0 < ceiling <= 1.0 and (floor is None or floor >= 0.0)


CLAMPS = "al302.clamps"
_WHY = (
    "outside the bounds the gradient is exactly zero, so saturated scores stop learning "
    "and the loss goes flat; fix the scale upstream or use a loss that is stable on raw "
    "logits"
)


def _holds_scores(flow: ScopeFlow, expr: cst.BaseExpression, at: int) -> bool:
    return is_scores(flow, expr, at, SCORE_TOKENS)


def _domain_bounds(low: cst.Arg | None, high: cst.Arg) -> bool:
    """``clamp(-1, 1)``, ``clamp(-1 + eps, 1 - eps)``: an acos / atanh domain."""
    text = [low.value if low is not None else None, high.value]
    values = []
    for node in text:
        if isinstance(node, cst.BinaryOperation):
            node = node.left  # 1 - eps
        values.append(_literal_value(node) if node is not None else None)
    return all(v is not None and abs(v) <= 1.0 for v in values)


_ELEMENTWISE = frozenset({"max", "min", "maximum", "minimum", "fmax", "fmin"})


def _pessimistic(flow: ScopeFlow, step: Step, clamp: cst.Call, names: set[str]) -> bool:
    """The clamped value is one side of an element-wise ``torch.max(a, b)`` /
    ``torch.min(a, b)`` (PPO's clipped value and ratio objectives): the other, unclipped
    side carries the gradient wherever the clip would cut it. Both sides built from the
    clamped value (``torch.min(ratio * adv, clipped * adv)`` of clamped logits) is no
    such pair."""

    def pairs(at: Step, holds: object) -> bool:
        for call in at.calls:
            if callee_last(call) not in _ELEMENTWISE:
                continue
            tensors = [a for a in call.args if a.keyword is None]
            if len(tensors) == 2 and not any(is_number_literal(a.value) for a in tensors):
                held = [bool(holds(a.value)) for a in tensors]  # type: ignore[operator]
                if held[0] != held[1]:  # one side clipped, the other not
                    return True
        return False

    if pairs(step, lambda v: contains(v, clamp)):
        return True
    return any(
        pairs(later, lambda v, u=used: bool(read_names(v) & u))
        for later, used in flow.forward(names, step.index)
    )


class ScoreClamp(NoGradScopes, CallerSide, ScopedRule):
    code = "AL302"
    name = "score-clamp"
    summary = "scores or logits clamped before the loss: zero gradient at the bounds"
    # "backward" and "loss": the caller of a helper that clamps (see AL301)
    triggers = ("clamp", "clip", "backward", "loss")
    own_calls = _CLAMPS

    def __init__(self, context: RuleContext, options: Any | None = None) -> None:
        super().__init__(context, options)
        self.init_callers(CLAMPS, "clamped", _WHY)

    def visit_Call(self, node: cst.Call) -> None:
        if self.without_grad:
            return  # a metric or an evaluation pass: no loss is built there
        if callee_last(node) in _CLAMPS:
            self.candidate(node)
        else:
            self.watch_call(node)

    def analyse(self, flow: ScopeFlow, nodes: list[cst.CSTNode], class_name: str | None) -> None:
        loss_scope = is_loss_scope(flow.scope, class_name)
        calls = [node for node in nodes if id(node) in self.calls]
        self.helpers.calls_in(flow, calls, loss_scope, _holds_scores)
        for call in nodes:
            assert isinstance(call, cst.Call)
            step = flow.step_of(call)
            if step is None or id(call) in self.calls:
                continue
            qualname = self.context.qualname(call.func) or ""
            method = not qualname.startswith(("torch.", "numpy.", "np."))
            if method and isinstance(call.func, cst.Attribute):
                value: cst.BaseExpression = call.func.value
                low = call_arg(call, "min", 0)
                high = call_arg(call, "max", 1)
            elif qualname in ("torch.clamp", "torch.clip", "torch.clamp_", "torch.clip_"):
                first = call_arg(call, "input", 0)
                if first is None:
                    continue
                value = first.value
                low = call_arg(call, "min", 1)
                high = call_arg(call, "max", 2)
            else:
                continue  # numpy has no gradient to kill; other clip_* are not clamps
            floor = _literal_value(low.value) if low is not None else None
            if high is None and (floor is None or floor >= 0):
                continue  # clamp(min=eps) / clamp(min=0): a log guard or a relu, not bounds
            if _probability_bounds(low, high):
                continue  # clamp(p, eps, 1 - eps): a probability, whatever its name
            if self._feeds_log(step.calls, call):
                continue  # probabilities kept off zero before a log
            names = (
                set(step.binds) if step.value is not None and contains(step.value, call) else set()
            )
            if callee_last(call).endswith("_") and isinstance(value, cst.Name):
                names.add(value.value)
            if _pessimistic(flow, step, call, names):
                continue  # PPO's value clip: the unclipped term keeps the gradient
            if is_scores(flow, value, step.index, SCORE_TOKENS) and feeds_loss(
                flow, step, call, names, loss_scope, self.context.module
            ):
                self.report(call, f"scores/logits are clamped on their way into the loss: {_WHY}")
                continue
            if high is None or _domain_bounds(low, high):
                continue  # a helper's clamp(-1, 1) before acos is not a score clamp
            params = scrubbed_params(flow, step, value, names)
            if params:  # a helper: its callers decide whether scores reach a loss
                self.helpers.scrub(flow, call, params, self.context.code_for(call))

    @staticmethod
    def _feeds_log(calls: tuple[cst.Call, ...], clamp: cst.Call) -> bool:
        for call in calls:
            if call is clamp or callee_last(call) not in _LOG_CALLS:
                continue
            if isinstance(call.func, cst.Attribute) and call.func.value is clamp:
                return True
            if call.args and call.args[0].value is clamp:
                return True
        return False
