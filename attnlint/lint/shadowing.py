"""Which name a fix may write to reach a module: resolved in the scope it writes into.

The engine's import map ignores scoping on purpose (rules read code; a shadowed alias is
rare). A fix writes code, and ``torch.finfo(...)`` inside ``def f(torch): ...`` or in a
function of a module that imports torch only inside another function would raise, so a
fix asks here first: the alias must be bound to the module by an import the scope sees,
and by nothing else in that scope or the functions around it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache

import libcst as cst

from attnlint.lint.helpers import assigned_names
from attnlint.lint.walk import subclass_table, walk

Scope = cst.Module | cst.FunctionDef


def module_alias(
    module: cst.Module,
    imports: Mapping[str, str],
    scopes: Iterable[Scope],
    target: str = "torch",
) -> str | None:
    """A local name bound to module ``target`` wherever ``scopes`` (innermost first, the
    module included or not) can see it; None when every alias is shadowed or unseen."""
    functions = [s for s in scopes if isinstance(s, cst.FunctionDef)]
    for alias in (local for local, full in imports.items() if full == target):
        places = [module, *functions]
        imported = any(_imports(place, alias, target) for place in places)
        if imported and not any(_binds_otherwise(place, alias, target) for place in places):
            return alias
    return None


@lru_cache(maxsize=16)  # the fixes of one module ask about the same few scopes
def _bindings(scope: Scope) -> tuple[frozenset[tuple[str, str]], frozenset[str]]:
    """What ``scope`` itself binds (nested functions, classes and lambdas bind their name
    here, their bodies elsewhere): imports as (local name, what it is), other names."""
    imports: set[tuple[str, str]] = set()
    other: set[str] = set()
    binders = _BINDERS
    for node in walk(scope, _OWN_SCOPE):
        # Most nodes bind nothing: one table lookup skips them (see walk.TypeTable).
        if node is scope or not binders[type(node)]:
            continue
        if isinstance(node, cst.ImportFrom) and isinstance(node.names, cst.ImportStar):
            other.add("*")
        imports.update(_imported(node))
        other.update(_bound(node))
    return frozenset(imports), frozenset(other)


_OWN_SCOPE = (cst.FunctionDef, cst.ClassDef, cst.Lambda, cst.Import, cst.ImportFrom)
# Every node type ``_imported`` or ``_bound`` has an answer for.
_BINDERS = subclass_table(
    cst.Import,
    cst.ImportFrom,
    cst.Param,
    cst.FunctionDef,
    cst.ClassDef,
    cst.AssignTarget,
    cst.AugAssign,
    cst.AnnAssign,
    cst.For,
    cst.CompFor,
    cst.NamedExpr,
    cst.AsName,
    cst.Global,
    cst.Nonlocal,
    cst.Del,
)


def rebound(name: str, scopes: Iterable[Scope]) -> bool:
    """Whether a function among ``scopes`` binds ``name`` itself (a parameter, an
    assignment, an import...), hiding the module-level value of that name."""
    for scope in scopes:
        if isinstance(scope, cst.FunctionDef):
            imports, other = _bindings(scope)
            if name in other or any(local == name for local, _ in imports):
                return True
    return False


def _imports(scope: Scope, alias: str, target: str) -> bool:
    return (alias, target) in _bindings(scope)[0]


def _binds_otherwise(scope: Scope, alias: str, target: str) -> bool:
    """Whether ``alias`` gets a value in ``scope`` other than by ``import target``."""
    imports, other = _bindings(scope)
    return alias in other or any(local == alias and full != target for local, full in imports)


def _imported(node: cst.CSTNode) -> list[tuple[str, str]]:
    """(local name, what it is) for ``import a.b as c`` and ``from a import b as c``."""
    if isinstance(node, cst.Import):
        return [(local, _dotted(n.name)) for n in node.names if (local := _import_binds(n))]
    if isinstance(node, cst.ImportFrom) and not isinstance(node.names, cst.ImportStar):
        base = _dotted(node.module) if node.module is not None and not node.relative else ""
        return [
            (local, f"{base}.{_dotted(n.name)}" if base else "")
            for n in node.names
            if (local := _import_binds(n))
        ]
    return []


def _import_binds(name: cst.ImportAlias) -> str | None:
    if name.asname is not None:
        return name.asname.name.value if isinstance(name.asname.name, cst.Name) else None
    return _dotted(name.name).split(".", 1)[0]


def _dotted(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return ""


def _bound(node: cst.CSTNode) -> list[str]:
    """Names ``node`` binds in its scope, imports aside (``_imported`` has those)."""
    if isinstance(node, cst.Param):
        return [node.name.value]
    if isinstance(node, cst.FunctionDef | cst.ClassDef):
        return [node.name.value]
    if isinstance(node, cst.AssignTarget):
        return _targets(node.target)
    if isinstance(node, cst.AugAssign | cst.AnnAssign):
        return _targets(node.target)
    if isinstance(node, cst.For | cst.CompFor):
        return _targets(node.target)
    if isinstance(node, cst.NamedExpr):
        return _targets(node.target)
    if isinstance(node, cst.AsName):
        return _targets(node.name)  # with ... as x, except E as x
    if isinstance(node, cst.Global | cst.Nonlocal):
        return [item.name.value for item in node.names]
    if isinstance(node, cst.Del):
        return _targets(node.target)
    return []


def _targets(node: cst.CSTNode) -> list[str]:
    """Plain names bound by a target (``self.x = ...`` and ``a[i] = ...`` bind none)."""
    return assigned_names(node) if isinstance(node, cst.BaseExpression) else []
