"""The project index, phase 1: a small summary of every function, built during the one pass.

While the engine walks a file (once, with all rules batched), an ``Indexer`` visitor runs
first and records, per function and method: its parameters, the line of its ``def``, which
of its parameters it hands on to which callee (``flows``), and which calls it returns
(``returns``). Rules add what only they can judge:

* a **fact** about the function (``index.fact(function, "al103.returns_norm", RETURN)``:
  "this function returns a clip norm"; ``index.fact(function, "al201.override", "dim_override",
  "stat_dim")``: "this parameter overrides the configured ``stat_dim``");
* a **pending finding** (``Rule.report_if``): a finding at a call that holds only if the
  callee has a fact on the parameter the call fills. Phase 2 (``attnlint.lint.project``)
  decides it from the summaries of the checked files and of the modules they import.

Facts travel up the call graph without any rule's help: a function that passes its own
parameter ``p``, unchanged, to a callee parameter that has a fact has it on ``p`` too; a
function that returns the result of a callee with a ``RETURN`` fact has that fact on its
own return. Phase 2 follows this up to ``project.MAX_DEPTH`` calls away.

Everything here is plain data (``to_json`` / ``from_json``) so it is cached with the
file's findings, keyed by the file's content: nothing in a summary depends on its path
(relative imports are kept as written and resolved in phase 2).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import libcst as cst

RETURN = "return"  # pseudo-parameter: the function's return value
ANY_PARAM = "**"  # callee slot filled by ``**kwargs``: any parameter of the callee

_DEF_LINE = re.compile(r"^[ \t]*(?:async[ \t]+)?def[ \t]+(\w+)", re.M)


@dataclass(slots=True)
class Flow:
    """``param`` of this function is passed, unchanged, to ``slot`` of ``callee``.

    ``slot`` is a positional index (``"0"``), a keyword name, or ``ANY_PARAM`` for
    ``**param``. ``callee`` is the dotted name as written (``build``, ``m.build``,
    ``self.encode``, ``Net``): phase 2 applies the module's ``imports`` to it.
    """

    param: str
    callee: str
    slot: str
    # a part of the parameter is passed (``Net(cfg.model)``, ``Net(cfg["model"])``): only
    # the facts of ``PART_FACTS`` travel up such a flow
    part: bool = False


# Facts that hold of a configuration object when they hold of a part of it: a width read
# from ``cfg.model.in_dim`` is read from ``cfg``.
PART_FACTS = frozenset({"al201.input"})


@dataclass(slots=True)
class FunctionSummary:
    name: str  # qualified within the module: "build", "Trainer.step", "outer.inner"
    line: int
    params: list[str]
    klass: str | None = None  # the class whose body defines it (a method), if any
    static: bool = False  # @staticmethod: no bound first parameter
    facts: dict[str, dict[str, str]] = field(default_factory=dict)  # fact -> {param: detail}
    flows: list[Flow] = field(default_factory=list)
    returns: list[str] = field(default_factory=list)  # callees whose result is returned

    def to_json(self) -> list[Any]:
        flows = [[f.param, f.callee, f.slot, f.part] for f in self.flows]
        return [self.line, self.params, self.klass, self.static, self.facts, flows, self.returns]

    @classmethod
    def from_json(cls, name: str, data: list[Any]) -> FunctionSummary:
        line, params, klass, static, facts, flows, returns = data
        return cls(name, line, params, klass, static, facts, [Flow(*f) for f in flows], returns)


@dataclass(slots=True)
class Pending:
    """A finding that holds only if ``callee``'s ``slot`` has ``fact`` (decided in phase 2).

    ``message`` may contain ``{callee}`` (rendered ``make_model (models/factory.py:40)``)
    and ``{detail}`` (the detail the callee's fact was recorded with). ``unless``: details
    that silence it (e.g. the configured keys the caller's module already compares with
    the data); ``among``, when not empty: the only details for which it holds. Positions
    are 1-based like a Diagnostic's.
    """

    code: str
    message: str
    line: int
    column: int
    end_line: int
    end_column: int
    callee: str
    slot: str
    fact: str
    scope: str = ""  # qualified name of the calling function ("" at module level)
    unless: list[str] = field(default_factory=list)
    among: list[str] = field(default_factory=list)
    # Report at the callee's fact (recorded with ``FileIndex.fact_at``), in the callee's
    # file, instead of at this call; ``{caller}`` in the message names this call.
    at_callee: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "when": [
                self.callee,
                self.slot,
                self.fact,
                self.scope,
                self.unless,
                self.among,
                self.at_callee,
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Pending:
        callee, slot, fact, scope, unless, among, at_callee = data["when"]
        return cls(
            data["code"],
            data["message"],
            data["line"],
            data["column"],
            data["end_line"],
            data["end_column"],
            callee,
            slot,
            fact,
            scope,
            list(unless),
            list(among),
            bool(at_callee),
        )


@dataclass(slots=True)
class ModuleSummary:
    functions: dict[str, FunctionSummary] = field(default_factory=dict)
    classes: dict[str, list[str]] = field(default_factory=dict)  # class -> base dotted names
    imports: dict[str, str] = field(default_factory=dict)  # local name -> dotted, as written

    def to_json(self) -> dict[str, Any]:
        return {
            "f": {name: f.to_json() for name, f in self.functions.items()},
            "c": self.classes,
            "i": self.imports,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModuleSummary:
        functions = {n: FunctionSummary.from_json(n, f) for n, f in data["f"].items()}
        return cls(functions, dict(data["c"]), dict(data["i"]))


@dataclass(slots=True)
class _Waiting:
    """A pending finding before the engine has its node's position."""

    node: cst.CSTNode
    call: cst.Call
    code: str
    message: str
    slot: str
    fact: str
    unless: list[str]
    among: list[str]
    at_callee: bool


def position_of(detail: str) -> tuple[tuple[int, int, int, int] | None, str]:
    """A fact's node position (``fact_at``) and its free-text detail."""
    if not detail.startswith("@"):
        return None, detail
    where, _, text = detail[1:].partition("|")
    try:
        line, column, end_line, end_column = (int(n) for n in where.split(":"))
    except ValueError:
        return None, text
    return (line, column, end_line, end_column), text


def call_slots(call: cst.Call) -> Iterator[tuple[str, cst.BaseExpression]]:
    """``(slot, value)`` for each argument of ``call`` that a parameter can be named for:
    its position as a string, its keyword, or ``ANY_PARAM`` for ``**kw``; the positions
    after a ``*args`` are unknown and skipped."""
    position: int | None = 0
    for arg in call.args:
        if arg.star == "*":
            position = None
            continue
        if arg.keyword is not None:
            yield arg.keyword.value, arg.value
        elif arg.star == "**":
            yield ANY_PARAM, arg.value
        elif position is not None:
            yield str(position), arg.value
            position += 1


def _dotted(node: cst.CSTNode, imports: Mapping[str, str]) -> str | None:
    parts: list[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    parts.append(imports.get(node.value, node.value))
    return ".".join(reversed(parts))


class FileIndex:
    """The summary of one module under construction; ``RuleContext.index``."""

    def __init__(self, source: str, imports: Mapping[str, str]) -> None:
        self.summary = ModuleSummary(imports=dict(imports))
        self.waiting: list[_Waiting] = []
        self._source = source
        self._by_node: dict[int, FunctionSummary] = {}
        self._call_scope: dict[int, FunctionSummary | None] = {}
        self._def_lines: dict[str, list[int]] | None = None
        self._def_seen: dict[str, int] = {}
        self._placed: list[tuple[FunctionSummary, str, str, cst.CSTNode, str]] = []

    # -- for rules ---------------------------------------------------------------------

    def function(self, node: cst.FunctionDef) -> FunctionSummary:
        """The summary of ``node`` (the Indexer creates it before any rule sees it)."""
        return self._by_node[id(node)]

    def fact(self, function: cst.FunctionDef, fact: str, param: str, detail: str = "") -> None:
        """Record that ``param`` (or ``RETURN``) of ``function`` has ``fact``."""
        summary = self._by_node.get(id(function))
        if summary is not None:
            summary.facts.setdefault(fact, {}).setdefault(param, detail)

    def fact_at(
        self,
        function: cst.FunctionDef,
        fact: str,
        param: str,
        node: cst.CSTNode,
        detail: str = "",
    ) -> None:
        """``fact`` with the position of ``node``: a caller's pending finding made with
        ``at_callee=True`` is reported there, in this file. Check ``# noqa`` on that line
        before calling this (phase 2 does not read the callee's source)."""
        summary = self._by_node.get(id(function))
        if summary is not None:
            self._placed.append((summary, fact, param, node, detail))

    def callee(self, call: cst.Call) -> str | None:
        """The dotted name ``call`` calls, its head resolved through the imports
        (``pkg.models.build`` for ``m.build`` after ``import pkg.models as m``), if any."""
        return _dotted(call.func, self.summary.imports)

    def scope_of(self, call: cst.Call) -> FunctionSummary | None:
        """The function whose body contains ``call`` (None at module or class level)."""
        return self._call_scope.get(id(call))

    def pending(
        self,
        code: str,
        node: cst.CSTNode,
        call: cst.Call,
        slot: int | str,
        fact: str,
        message: str,
        unless: Iterable[str] = (),
        among: Iterable[str] = (),
        at_callee: bool = False,
    ) -> None:
        """A finding at ``node`` if the function ``call`` calls has ``fact`` on the
        parameter ``slot`` fills (a positional index, a keyword, or ``RETURN``)."""
        self.waiting.append(
            _Waiting(
                node,
                call,
                code,
                message,
                str(slot),
                fact,
                sorted(unless),
                sorted(among),
                at_callee,
            )
        )

    def nodes(self) -> list[cst.CSTNode]:
        """The nodes whose positions ``finish`` needs."""
        return [item.node for item in self.waiting] + [item[3] for item in self._placed]

    # -- for the Indexer and the engine ------------------------------------------------

    def _def_line(self, name: str) -> int:
        # Positions of every def would cost a codegen pass; the k-th ``def name`` in the
        # text is the k-th FunctionDef of that name the in-order walk meets.
        if self._def_lines is None:
            self._def_lines = {}
            line, at = 1, 0  # counted on from the previous def: linear, not quadratic
            for match in _DEF_LINE.finditer(self._source):
                line += self._source.count("\n", at, match.start())
                at = match.start()
                self._def_lines.setdefault(match.group(1), []).append(line)
        seen = self._def_seen.get(name, 0)
        self._def_seen[name] = seen + 1
        lines = self._def_lines.get(name, [])
        return lines[seen] if seen < len(lines) else (lines[-1] if lines else 1)

    def finish(self, positions: Mapping[cst.CSTNode, Any]) -> list[Pending]:
        """Pending findings with positions (``positions``: node -> CodeRange); the facts
        placed on a node get its position."""
        from attnlint.lint.engine import NEWLINE, suppressed  # engine imports this module

        lines: list[str] | None = None
        for summary, fact, param, node, detail in self._placed:
            where = positions.get(node)
            if where is None:
                continue
            start, end = where.start, where.end
            if lines is None:
                lines = NEWLINE.split(self._source)
            text = lines[start.line - 1] if start.line - 1 < len(lines) else ""
            # A noqa comment for the rule on that line silences the finding a caller
            # would place there, and the one at the call too: no fact is recorded.
            if suppressed(text, fact.partition(".")[0].upper()):
                continue
            at = f"@{start.line}:{start.column + 1}:{end.line}:{end.column + 1}|{detail}"
            summary.facts.setdefault(fact, {}).setdefault(param, at)
        out: list[Pending] = []
        for item in self.waiting:
            callee = _dotted(item.call.func, {})
            where = positions.get(item.node)
            if callee is None or where is None:
                continue
            scope = self._call_scope.get(id(item.call))
            out.append(
                Pending(
                    item.code,
                    item.message,
                    where.start.line,
                    where.start.column + 1,
                    where.end.line,
                    where.end.column + 1,
                    callee,
                    item.slot,
                    item.fact,
                    scope.name if scope is not None else "",
                    item.unless,
                    item.among,
                    item.at_callee,
                )
            )
        return out
