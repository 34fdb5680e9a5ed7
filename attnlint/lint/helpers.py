"""Small syntax helpers shared by rules. Pure functions over bare libcst nodes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import libcst as cst

from attnlint.lint.walk import TypeTable, child_list, subclass_table, walk


def call_arg(call: cst.Call, keyword: str | None, position: int | None) -> cst.Arg | None:
    """The argument passed as ``keyword=`` or at ``position`` (0-based), if any."""
    positional = 0
    for arg in call.args:
        if arg.keyword is not None:
            if keyword is not None and arg.keyword.value == keyword:
                return arg
        elif arg.star == "":
            if position is not None and positional == position:
                return arg
            positional += 1
    return None


def is_number_literal(node: cst.BaseExpression) -> bool:
    """``1e-3``, ``-0.5``, ``+2``, ``(3e-4)``: a numeric literal, possibly signed."""
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus | cst.Plus):
        node = node.expression
    return isinstance(node, cst.Integer | cst.Float)


def names_in(node: cst.CSTNode) -> set[str]:
    """Every bare ``Name`` read or written anywhere inside ``node``."""
    is_name = _IS_NAME
    return {n.value for n in walk(node) if is_name[type(n)]}  # type: ignore[attr-defined]


_IS_NAME = subclass_table(cst.Name)


def assigned_names(target: cst.BaseExpression) -> list[str]:
    """Plain names bound by an assignment target (tuples and ``*rest`` unpacked;
    attributes and subscripts skipped)."""
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, cst.Tuple | cst.List):
        out: list[str] = []
        for element in target.elements:
            out.extend(assigned_names(element.value))
        return out
    if isinstance(target, cst.StarredElement):
        return assigned_names(target.value)
    return []


_ARITHMETIC = (cst.Add, cst.Subtract, cst.Multiply, cst.Divide, cst.Power)


def is_constant_number(node: cst.BaseExpression) -> bool:
    """A number literal or arithmetic on number literals only (``3e-4 * 2``, ``1 / 3``)."""
    if is_number_literal(node):
        return True
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, _ARITHMETIC):
        return is_constant_number(node.left) and is_constant_number(node.right)
    return False


def string_value(node: cst.BaseExpression) -> str | None:
    """The value of a plain (non-f, non-concatenated) string literal."""
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def is_test_path(path: str) -> bool:
    """``test_x.py``, ``x_test.py``, ``conftest.py`` or anything under a ``tests/`` (or
    ``test/``, ``testing/``: a library's test utilities, ``torch/testing/_internal``) folder.

    Tests pin learning rates and drop norms on purpose; findings there are noise.
    """
    parts = path.replace("\\", "/").split("/")
    name = parts[-1]
    return (
        name.startswith("test_")
        or name.endswith("_test.py")
        or name == "conftest.py"
        or any(part in ("tests", "test", "testing") for part in parts[:-1])
    )


def scope_statements(body: object) -> list[cst.CSTNode]:
    """Small and compound statements of one scope, in order, nested blocks (if/for/with/
    try) included, nested function and class bodies excluded."""
    out: list[cst.CSTNode] = []
    stack: list[object] = [body]
    while stack:
        item = stack.pop()
        if isinstance(item, list | tuple):
            stack.extend(reversed(item))
        elif isinstance(item, cst.SimpleStatementLine | cst.SimpleStatementSuite):
            out.extend(item.body)
        elif isinstance(item, cst.FunctionDef | cst.ClassDef):
            out.append(item)
        elif isinstance(item, cst.BaseCompoundStatement):
            out.append(item)
            children = [getattr(item, "body", None)]
            children += list(getattr(item, "handlers", ()))
            children += [getattr(item, "orelse", None), getattr(item, "finalbody", None)]
            if isinstance(item, cst.Match):
                children += [case.body for case in item.cases]
            stack.append([child for child in children if child is not None])
        elif isinstance(item, cst.BaseSuite | cst.ExceptHandler | cst.Else | cst.Finally):
            stack.append(item.body)
        elif isinstance(item, cst.If):
            stack.append(item)
    return out


def scope_assignments(scope: cst.Module | cst.FunctionDef) -> dict[str, list[cst.BaseExpression]]:
    """Plain-name bindings made by ``=`` / annotated ``=`` in one scope: name -> values."""
    found: dict[str, list[cst.BaseExpression]] = {}
    for stmt in scope_statements(scope.body):
        if isinstance(stmt, cst.Assign):
            for target in stmt.targets:
                for name in assigned_names(target.target):
                    found.setdefault(name, []).append(stmt.value)
        elif (
            isinstance(stmt, cst.AnnAssign)
            and stmt.value is not None
            and isinstance(stmt.target, cst.Name)
        ):
            found.setdefault(stmt.target.value, []).append(stmt.value)
    return found


def parameter_names(function: cst.FunctionDef) -> set[str]:
    params = function.params
    every = [*params.posonly_params, *params.params, *params.kwonly_params]
    for star in (params.star_arg, params.star_kwarg):
        if isinstance(star, cst.Param):
            every.append(star)
    return {param.name.value for param in every}


def read_names(node: cst.CSTNode) -> list[cst.Name]:
    """``Name`` nodes that may be reads: attribute names, keyword names, parameters,
    def/class names and the plain-name targets of ``=`` are left out."""
    found: list[cst.Name] = []
    stack: list[cst.CSTNode] = [node]
    special = _READ_SPECIAL
    while stack:
        current = stack.pop()
        which = special[type(current)]
        if which is None:
            parts: list[cst.CSTNode | None] = child_list(current)  # type: ignore[assignment]
        elif which is cst.Name:
            found.append(current)  # type: ignore[arg-type]
            continue
        else:
            parts = _read_parts(current, which)
        parts.reverse()
        stack.extend(part for part in parts if part is not None)
    return found


# The node types ``read_names`` does not simply descend into, most specific first.
_READ_KINDS = (
    cst.Name,
    cst.Attribute,
    cst.Arg,
    cst.Param,
    cst.FunctionDef,
    cst.ClassDef,
    cst.AssignTarget,
    cst.AnnAssign,
)
_READ_SPECIAL: TypeTable[type | None] = TypeTable(
    lambda kind: next((k for k in _READ_KINDS if issubclass(kind, k)), None)
)


def _read_parts(current: Any, which: type) -> list[cst.CSTNode | None]:
    if which is cst.Attribute or which is cst.Arg:
        return [current.value]
    if which is cst.Param:
        return [current.default]
    if which is cst.FunctionDef:
        return [*current.decorators, current.params, current.body, current.returns]
    if which is cst.ClassDef:
        return [*current.decorators, *current.bases, *current.keywords, current.body]
    if which is cst.AssignTarget:
        return [] if isinstance(current.target, cst.Name) else child_list(current)  # type: ignore[return-value]
    target = None if isinstance(current.target, cst.Name) else current.target  # AnnAssign
    return [target, current.annotation, current.value]


_T = TypeVar("_T")


class ScopeFacts:
    """Answers about one module's scopes, each computed once per scope.

    Rules ask "is this name read in the scope?" or "which logger does the module bind?"
    once per finding; walking the scope each time makes a long module quadratic (a 50k-line
    script has thousands of findings in one scope). One instance lives on the RuleContext
    of the module being checked, so nothing outlives that module. Keys hold the node itself,
    which keeps its ``id`` from being reused while the entry exists.
    """

    def __init__(self) -> None:
        self._memo: dict[tuple[str, int], tuple[cst.CSTNode, Any]] = {}

    def once(self, kind: str, scope: cst.CSTNode, compute: Callable[[], _T]) -> _T:
        """``compute()`` the first time ``kind`` is asked about ``scope``, then its answer."""
        key = (kind, id(scope))
        hit = self._memo.get(key)
        if hit is None:
            hit = (scope, compute())
            self._memo[key] = hit
        return hit[1]  # type: ignore[no-any-return]

    def reads(self, scope: cst.CSTNode) -> frozenset[str]:
        """The names ``read_names(scope)`` finds."""
        return self.once("reads", scope, lambda: frozenset(n.value for n in read_names(scope)))

    def names(self, scope: cst.CSTNode) -> frozenset[str]:
        """``names_in(scope)``."""
        return self.once("names", scope, lambda: frozenset(names_in(scope)))

    def statements(self, scope: cst.Module | cst.FunctionDef) -> tuple[cst.CSTNode, ...]:
        """``scope_statements(scope.body)``."""
        return self.once("statements", scope, lambda: tuple(scope_statements(scope.body)))
