"""Code that runs without gradient (``@torch.no_grad()``, ``with torch.inference_mode():``):
nothing computed there reaches a loss's backward pass, so a scrub or clamp there (a
metric, an evaluation pass) hides no NaN that should have stopped training."""

from __future__ import annotations

import libcst as cst

from attnlint.lint.vocab import callee_last

_NO_GRAD = frozenset({"no_grad", "inference_mode"})


def _no_grad(expr: cst.BaseExpression) -> bool:
    if isinstance(expr, cst.Call):  # ``torch.no_grad()``, ``torch.inference_mode(True)``
        if callee_last(expr) == "set_grad_enabled":
            return (
                bool(expr.args)
                and isinstance(expr.args[0].value, cst.Name)
                and (expr.args[0].value.value == "False")
            )
        expr = expr.func
    last = expr.attr.value if isinstance(expr, cst.Attribute) else getattr(expr, "value", "")
    return last in _NO_GRAD


class NoGradScopes:
    """Mixed into a rule before ``ScopedRule``: ``without_grad`` is true inside a function
    decorated, or a ``with`` block entered, with ``no_grad`` / ``inference_mode``."""

    _no_grad_depth: int = 0

    @property
    def without_grad(self) -> bool:
        return self._no_grad_depth > 0

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if any(_no_grad(d.decorator) for d in node.decorators):
            self._no_grad_depth += 1
        super().visit_FunctionDef(node)  # type: ignore[misc]

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        super().leave_FunctionDef(original_node)  # type: ignore[misc]
        if any(_no_grad(d.decorator) for d in original_node.decorators):
            self._no_grad_depth -= 1

    def visit_With(self, node: cst.With) -> None:
        if any(_no_grad(item.item) for item in node.items):
            self._no_grad_depth += 1

    def leave_With(self, original_node: cst.With) -> None:
        if any(_no_grad(item.item) for item in original_node.items):
            self._no_grad_depth -= 1
