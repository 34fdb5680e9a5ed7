"""Shared machinery of the rules that flag a literal argument (AL101, AL102).

A value is "hard-coded" when it is a number literal or arithmetic on literals. Names are
values from somewhere else (configuration, a parameter, a CLI argument) and are left
alone, except that the ``flag-constants`` option follows a name bound exactly once at
module level to a literal, when no enclosing function rebinds or receives that name.
"""

from __future__ import annotations

from typing import Any

import libcst as cst

from attnlint.lint.helpers import (
    is_constant_number,
    is_test_path,
    parameter_names,
    scope_assignments,
    scope_statements,
)
from attnlint.lint.options import RuleOptions
from attnlint.lint.rule import Rule, RuleContext


class LiteralOptions(RuleOptions):
    # Follow a name bound once at module level to a literal (``LR = 1e-3``).
    flag_constants: bool = False


class LiteralArgRule(Rule):
    """Base of rules that report literal arguments; tracks the enclosing functions."""

    Options = LiteralOptions
    advice = "read it from configuration"

    def __init__(self, context: RuleContext, options: Any | None = None) -> None:
        super().__init__(context, options)
        self._functions: list[cst.FunctionDef] = []
        self._assignments: dict[int, dict[str, list[cst.BaseExpression]]] = {}
        self._constants: dict[str, cst.BaseExpression] | None = None
        self._reported: set[int] = set()
        # Tests pin values on purpose.
        self.skip_file = is_test_path(context.path)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._functions.append(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._functions.pop()

    def current_scope(self) -> cst.Module | cst.FunctionDef:
        return self._functions[-1] if self._functions else self.context.module

    def check_value(self, value: cst.BaseExpression, template: str) -> None:
        """Report ``value`` if hard-coded; ``template`` holds ``{value}``."""
        literal = self._literal(value)
        if literal is None or id(value) in self._reported:
            return
        self._reported.add(id(value))
        shown = self.context.code_for(value).strip()
        if literal is not value:
            shown += f" (= {self.context.code_for(literal).strip()}, a module constant)"
        self.report(value, f"{template.format(value=shown)}: {self.advice}")

    def _literal(self, value: cst.BaseExpression) -> cst.BaseExpression | None:
        """The literal the value is, or (with ``flag_constants``) the module constant's."""
        if is_constant_number(value):
            return value
        if self.options.flag_constants and isinstance(value, cst.Name):  # type: ignore[attr-defined]
            if any(
                value.value in parameter_names(f) or value.value in self.bindings(f)
                for f in self._functions
            ):
                return None  # a local or parameter shadows the module name
            return self._module_constants().get(value.value)
        return None

    def _module_constants(self) -> dict[str, cst.BaseExpression]:
        if self._constants is None:
            counts: dict[str, int] = {}
            for stmt in scope_statements(self.context.module.body):
                targets: list[cst.BaseExpression] = []
                if isinstance(stmt, cst.Assign):
                    targets = [t.target for t in stmt.targets]
                elif isinstance(stmt, cst.AnnAssign | cst.AugAssign | cst.For):
                    targets = [stmt.target]
                for target in targets:
                    if isinstance(target, cst.Name):
                        counts[target.value] = counts.get(target.value, 0) + 1
            self._constants = {
                name: values[0]
                for name, values in scope_assignments(self.context.module).items()
                if counts.get(name) == 1 and len(values) == 1 and is_constant_number(values[0])
            }
        return self._constants

    def bindings(self, scope: cst.Module | cst.FunctionDef) -> dict[str, list[cst.BaseExpression]]:
        key = id(scope)
        if key not in self._assignments:
            self._assignments[key] = scope_assignments(scope)
        return self._assignments[key]
