"""AL303 silent-nonfinite-skip: a batch with a non-finite loss skipped without a trace."""

from __future__ import annotations

from typing import Any

import libcst as cst

from attnlint.lint.flow import SCORE_TOKENS, ScopedRule, ScopeFlow, callee_last, name_tokens
from attnlint.lint.helpers import call_arg
from attnlint.lint.rule import RuleContext
from attnlint.lint.walk import walk

_BAD = frozenset({"isnan", "isinf", "isneginf", "isposinf"})  # true on a bad value
_GOOD = frozenset({"isfinite"})  # true on a good value
_REDUCTIONS = frozenset({"any", "all", "item", "sum"})
_TRAINING = frozenset({"loss", "losses", "norm", "grad", "grads", "total"})
_WATCHED = SCORE_TOKENS | _TRAINING
# Calls on a skip path that neither log nor count.
_SILENT_CALLS = frozenset(
    {"zero_grad", "update", "step", "backward", "empty_cache", "detach", "item", "cpu", "float"}
)
# Lightning skips the batch when training_step returns None.
_SKIP_BY_RETURN = frozenset({"training_step", "train_step"})


class SilentNonfiniteSkip(ScopedRule):
    code = "AL303"
    name = "silent-nonfinite-skip"
    summary = "a batch skipped on a non-finite loss with no log, counter or raise"
    triggers = ("isnan", "isfinite", "isinf", "!=")

    def visit_Call(self, node: cst.Call) -> None:
        if callee_last(node) in _BAD or callee_last(node) in _GOOD:
            self._tested = True

    def visit_NotEqual(self, node: cst.NotEqual) -> None:
        self._tested = True

    def leave_If(self, original_node: cst.If) -> None:
        # Only scopes that test for NaN so far (the test and any flag set before it have
        # been visited by now) pay for a flow.
        if self._tested:
            self.candidate(original_node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        super().visit_FunctionDef(node)
        self._tested_stack.append(self._tested)
        self._tested = False

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        super().leave_FunctionDef(original_node)
        self._tested = self._tested_stack.pop()

    def __init__(self, context: RuleContext, options: Any | None = None) -> None:
        super().__init__(context, options)
        self._tested = False
        self._tested_stack: list[bool] = []
        # Outside a module that trains, "output" is a result array (a numba kernel's
        # `if np.isnan(output[i]): continue`), not a model's scores: only a loss, a
        # gradient or its norm counts there.
        source = context.source
        trains = "loss" in source or "backward" in source
        self._watched_words = _WATCHED if trains else _TRAINING

    def analyse(self, flow: ScopeFlow, nodes: list[cst.CSTNode], class_name: str | None) -> None:
        by_node = {id(step.node): step for step in flow.steps if isinstance(step.node, cst.If)}
        scope = flow.scope
        returns_skip = isinstance(scope, cst.FunctionDef) and scope.name.value in _SKIP_BY_RETURN
        for node in nodes:
            step = by_node.get(id(node))
            if step is None:
                continue
            assert isinstance(node, cst.If)
            polarity = self._polarity(flow, node.test, step.index, 2)
            if polarity is None:
                continue
            if polarity:
                path: cst.BaseSuite | None = node.body
            else:
                path = node.orelse.body if isinstance(node.orelse, cst.Else) else None
            if path is None:
                continue
            exits = _exits(path)
            if not exits:
                continue
            in_loop = bool(step.loops)
            if not (in_loop or (returns_skip and "return" in exits)):
                continue
            if _accounted(path):
                continue
            self.report(
                node,
                "the batch is skipped on a non-finite loss with nothing logged or counted: "
                "the run keeps going while every batch may be NaN, and the flat loss curve "
                "hides it; log the step and count the skips (or raise)",
            )

    def _polarity(
        self, flow: ScopeFlow, test: cst.BaseExpression, at: int, depth: int
    ) -> bool | None:
        """True when ``test`` holds on a non-finite watched value, False when it holds on
        a finite one, None when it is not such a test."""
        if isinstance(test, cst.UnaryOperation) and isinstance(
            test.operator, cst.Not | cst.BitInvert
        ):
            inner = self._polarity(flow, test.expression, at, depth)
            return None if inner is None else not inner
        if isinstance(test, cst.BooleanOperation):
            left = self._polarity(flow, test.left, at, depth)
            right = self._polarity(flow, test.right, at, depth)
            if left is None:
                return right
            if right is None or right == left:
                return left
            return None
        if isinstance(test, cst.Comparison):  # loss != loss
            if (
                len(test.comparisons) == 1
                and isinstance(test.comparisons[0].operator, cst.NotEqual)
                and isinstance(test.left, cst.Name)
                and isinstance(test.comparisons[0].comparator, cst.Name)
                and test.left.value == test.comparisons[0].comparator.value
                and name_tokens(test.left) & _WATCHED
            ):
                return True
            return None
        if isinstance(test, cst.Name) and depth > 0:  # bad = not torch.isfinite(loss)
            defs = flow.definitions(test.value, at)
            if len(defs) == 1 and defs[0].value is not None:
                return self._polarity(flow, defs[0].value, defs[0].index, depth - 1)
            return None
        if not isinstance(test, cst.Call):
            return None
        last = callee_last(test)
        if last in _REDUCTIONS:  # torch.isnan(loss).any(), torch.any(torch.isnan(x))
            if isinstance(test.func, cst.Attribute) and isinstance(test.func.value, cst.Call):
                return self._polarity(flow, test.func.value, at, depth)
            first = call_arg(test, "input", 0)
            return self._polarity(flow, first.value, at, depth) if first is not None else None
        if last not in _BAD and last not in _GOOD:
            return None
        first = call_arg(test, None, 0)
        if isinstance(test.func, cst.Attribute) and first is None:
            value: cst.BaseExpression = test.func.value  # loss.isnan()
        elif first is not None:
            value = first.value  # torch.isnan(loss), math.isnan(loss.item())
        else:
            return None
        if not _watched(value, self._watched_words):
            return None
        return last in _BAD


def _watched(value: cst.BaseExpression, words: frozenset[str]) -> bool:
    """The loss (or scores / a grad norm): ``loss``, ``loss.item()``, ``out["loss"]``."""
    while isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute):
        value = value.func.value
    return bool(name_tokens(value) & words)


def _exits(suite: cst.BaseSuite) -> set[str]:
    """continue / break / return on this path (not inside a nested loop or function)."""
    kinds = {cst.Continue: "continue", cst.Break: "break", cst.Return: "return"}
    nested = (cst.For, cst.While, cst.FunctionDef)
    return {kinds[type(n)] for n in walk(suite, prune=nested) if type(n) in kinds}


def _accounted(suite: cst.BaseSuite) -> bool:
    """A log call, a counter, a raise or any call we cannot see into on this path."""
    for node in walk(suite):
        if isinstance(node, cst.Raise | cst.AugAssign):
            return True
        # self.skipped = self.skipped + 1, stats["nan"] = ...: bookkeeping
        if isinstance(node, cst.Assign) and any(
            isinstance(t.target, cst.Attribute | cst.Subscript) for t in node.targets
        ):
            return True
        if isinstance(node, cst.Call) and callee_last(node) not in _SILENT_CALLS:
            return True
    return False
