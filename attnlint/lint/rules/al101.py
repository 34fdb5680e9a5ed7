"""AL101 hardcoded-learning-rate: an optimizer or LR scheduler built with a literal rate."""

from __future__ import annotations

import libcst as cst

from attnlint.lint.helpers import call_arg, string_value
from attnlint.lint.literals import LiteralArgRule, LiteralOptions
from attnlint.lint.names import is_optimizer, lr_params


class HardcodedLearningRateOptions(LiteralOptions):
    pass


class HardcodedLearningRate(LiteralArgRule):
    code = "AL101"
    name = "hardcoded-learning-rate"
    summary = "optimizer or LR scheduler built with a numeric literal learning rate"
    # "optim"/"Adam"/"Lion" catch the positional form (``SGD(params, 0.1)``) in a file
    # that never spells "lr".
    triggers = ("lr", "learning_rate", "optim", "Adam", "Lion")
    Options = HardcodedLearningRateOptions
    advice = "read it from configuration so runs can sweep it and logs record it"

    def visit_Call(self, node: cst.Call) -> None:
        if self.skip_file:
            return
        qualname = self.context.qualname(node.func)
        if qualname is None:
            return
        params = lr_params(qualname)
        if params is None:
            return
        for param in params:
            arg = call_arg(node, param.keyword, param.position)
            if arg is None:
                continue
            where = "" if arg.keyword is not None else " (positional)"
            self.check_value(
                arg.value, f"{param.keyword}={{value}}{where} hard-coded in {qualname}"
            )
        if is_optimizer(qualname):
            groups = call_arg(node, "params", 0)
            if groups is not None:
                self._check_groups(groups.value, qualname)

    def _check_groups(self, value: cst.BaseExpression, qualname: str) -> None:
        """Literal ``"lr"`` entries of param groups passed directly or through a name
        bound to a list in the same scope."""
        candidates: list[cst.BaseExpression] = [value]
        if isinstance(value, cst.Name):
            candidates = list(self.bindings(self.current_scope()).get(value.value, []))
        for candidate in candidates:
            if not isinstance(candidate, cst.List | cst.Tuple):
                continue
            for element in candidate.elements:
                for lr in _group_lrs(element.value):
                    self.check_value(
                        lr, f'"lr": {{value}} hard-coded in a param group of {qualname}'
                    )


def _group_lrs(group: cst.BaseExpression) -> list[cst.BaseExpression]:
    """The ``lr`` values of one param group: ``{"params": ..., "lr": x}`` or ``dict(lr=x)``."""
    if isinstance(group, cst.Dict):
        return [
            element.value
            for element in group.elements
            if isinstance(element, cst.DictElement) and string_value(element.key) == "lr"
        ]
    if (
        isinstance(group, cst.Call)
        and isinstance(group.func, cst.Name)
        and group.func.value == "dict"
    ):
        arg = call_arg(group, "lr", None)
        return [arg.value] if arg is not None else []
    return []
