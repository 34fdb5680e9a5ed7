"""The rule API: a rule is one small class in ``attnlint/lint/rules/``.

Each rule is a libcst ``BatchableCSTVisitor``: the engine visits a module once with all
enabled rules batched together, so adding a rule never adds a pass over the tree.
Rules see bare nodes (no metadata providers: those are the cost Fixit pays); names are
resolved through the module's imports by ``RuleContext.qualname``; positions are
resolved by the engine only for files that have findings.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import libcst as cst

from attnlint.lint.diagnostic import Fix
from attnlint.lint.helpers import ScopeFacts
from attnlint.lint.index import FileIndex
from attnlint.lint.options import RuleOptions
from attnlint.lint.walk import subclass_table


class NoOptions(RuleOptions):
    """A rule without options (a table for it in the config may hold no key)."""


@dataclass(slots=True)
class Report:
    """A finding before positions are resolved: the engine turns it into a Diagnostic."""

    code: str
    node: cst.CSTNode
    message: str
    fix: Fix | None = None


def _dotted(node: cst.BaseExpression | cst.ImportAlias | cst.Attribute | cst.Name) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"  # type: ignore[arg-type]
    raise TypeError(type(node).__name__)


def _import_statements(body: object) -> Iterator[cst.Import | cst.ImportFrom]:
    """Imports anywhere in the module, walking statements only (never expressions)."""
    stack = [body]
    while stack:
        item = stack.pop()
        if isinstance(item, list | tuple):
            stack.extend(reversed(item))
        elif isinstance(item, cst.SimpleStatementLine):
            for small in item.body:
                if isinstance(small, cst.Import | cst.ImportFrom):
                    yield small
        elif isinstance(item, cst.BaseCompoundStatement):
            for attr in ("body", "orelse", "handlers", "finalbody"):
                child = getattr(item, attr, None)
                if child is not None:
                    stack.append(child)
        elif isinstance(item, cst.BaseSuite | cst.ExceptHandler | cst.Else | cst.Finally):
            stack.append(item.body)
        elif isinstance(item, cst.If):  # elif chains live in orelse
            stack.append(item)


def import_map(module: cst.Module) -> dict[str, str]:
    """Local name -> fully qualified name, from every import in the module.

    ``import torch.nn as nn`` gives ``nn -> torch.nn``; ``from torch import optim as o``
    gives ``o -> torch.optim``; ``import torch.optim`` binds ``torch``. Scoping is
    ignored on purpose: shadowing an import alias is rare, and a full scope analysis is
    the cost this engine avoids.
    """
    names: dict[str, str] = {}
    for stmt in _import_statements(module.body):
        if isinstance(stmt, cst.Import):
            for alias in stmt.names:
                full = _dotted(alias.name)
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                    names[alias.asname.name.value] = full
                else:
                    top = full.split(".", 1)[0]
                    names[top] = top
        elif not isinstance(stmt.names, cst.ImportStar):
            base = _dotted(stmt.module) if stmt.module is not None else ""
            base = "." * len(stmt.relative) + base
            for alias in stmt.names:
                name = _dotted(alias.name)
                # ``from . import x`` is ``.x``; ``from .m import x`` is ``.m.x``.
                full = (base + name if base.endswith(".") else f"{base}.{name}") if base else name
                local = (
                    alias.asname.name.value
                    if alias.asname is not None and isinstance(alias.asname.name, cst.Name)
                    else _dotted(alias.name)
                )
                names[local] = full
    return names


def dotted_name(node: cst.CSTNode, imports: Mapping[str, str] | None = None) -> str | None:
    """``a.b.c`` for a Name/Attribute chain (its head resolved through ``imports`` when
    given), else None."""
    parts: list[str] = []
    # Table lookups, not isinstance: rules ask this of most calls and names (walk.TypeTable).
    while _IS_ATTRIBUTE[type(node)]:
        parts.append(node.attr.value)  # type: ignore[attr-defined]
        node = node.value  # type: ignore[attr-defined]
    if not _IS_NAME[type(node)]:
        return None
    parts.append(node.value if imports is None else imports.get(node.value, node.value))
    return ".".join(reversed(parts))


_IS_ATTRIBUTE = subclass_table(cst.Attribute)
_IS_NAME = subclass_table(cst.Name)


@dataclass(slots=True)
class RuleContext:
    """What every rule may read about the file being checked."""

    path: str
    source: str
    module: cst.Module
    imports: dict[str, str] = field(default_factory=dict)
    reports: list[Report] = field(default_factory=list)
    index: FileIndex = field(default_factory=lambda: FileIndex("", {}))  # the project index
    facts: ScopeFacts = field(default_factory=ScopeFacts)  # per-scope answers, computed once

    @classmethod
    def for_module(cls, path: str, source: str, module: cst.Module) -> RuleContext:
        from attnlint.lint.starimports import star_names  # the summary imports this module

        imports = import_map(module)
        stars = [
            stmt
            for stmt in _import_statements(module.body)
            if isinstance(stmt, cst.ImportFrom) and isinstance(stmt.names, cst.ImportStar)
        ]
        if stars:  # a statement scan, not a walk: most files have none
            imports.update(star_names(module, imports, stars))
        index = FileIndex(source, imports)
        return cls(path=path, source=source, module=module, imports=imports, index=index)

    def qualname(self, node: cst.CSTNode) -> str | None:
        """Dotted name of a Name/Attribute chain with its head resolved through imports.

        ``o.AdamW`` after ``from torch import optim as o`` is ``torch.optim.AdamW``;
        ``self.scaler.unscale_`` stays ``self.scaler.unscale_``. Anything that is not a
        plain name chain (a call, a subscript) gives None.
        """
        return dotted_name(node, self.imports)

    def code_for(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)


class Rule(cst.BatchableCSTVisitor):
    """Base class of every rule. Subclasses set the class attributes and define
    ``visit_<Node>`` / ``leave_<Node>`` methods, calling ``self.report``.

    ``triggers``: substrings of which at least one must occur in a file's text for the
    rule to be able to fire; a file that contains none of the enabled rules' triggers is
    never parsed. Keep them exact: a missing trigger is a missed finding.
    """

    code: ClassVar[str]
    name: ClassVar[str]
    summary: ClassVar[str]
    triggers: ClassVar[tuple[str, ...]]
    Options: ClassVar[type[RuleOptions]] = NoOptions

    def __init__(self, context: RuleContext, options: Any | None = None) -> None:
        super().__init__()
        self.context = context
        self.options = options if options is not None else self.Options()

    def report(self, node: cst.CSTNode, message: str, fix: Fix | None = None) -> None:
        self.context.reports.append(Report(self.code, node, message, fix))

    def report_if(
        self,
        node: cst.CSTNode,
        call: cst.Call,
        slot: int | str,
        fact: str,
        message: str,
        unless: Iterable[str] = (),
        among: Iterable[str] = (),
        at_callee: bool = False,
    ) -> None:
        """Report at ``node`` if the function ``call`` calls has ``fact`` on the parameter
        that ``slot`` (a position, a keyword, or ``index.RETURN``) fills: decided by the
        project index once every summary is known. ``message`` may use ``{callee}``
        (rendered ``make_model (models/factory.py:40)``) and ``{detail}``; ``unless``:
        details that silence it; ``among``: if given, the only details it holds for.
        ``at_callee``: report at the callee's fact (``index.fact_at``) instead, in the
        callee's file, with ``{caller}`` naming this call."""
        self.context.index.pending(
            self.code, node, call, slot, fact, message, unless, among, at_callee
        )
