"""One file through the rules: text -> trigger check -> parse -> one batched pass -> findings."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import CodeRange
from pydantic import BaseModel

from attnlint.lint.diagnostic import Diagnostic
from attnlint.lint.index import Indexer, ModuleSummary, Pending
from attnlint.lint.positions import node_ranges
from attnlint.lint.rule import Report, Rule, RuleContext
from attnlint.lint.rules import all_rules
from attnlint.lint.walk import visit_batched

_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?", re.I)
# libcst counts lines on these; str.splitlines would also split on \f, \v, \x1c... and drift.
NEWLINE = re.compile(r"\r\n|\r|\n")

SYNTAX_CODE = "AL000"


def select_rules(select: Iterable[str] | None = None) -> list[type[Rule]]:
    """Rules whose code starts with one of ``select`` (``AL1`` selects AL101-AL104)."""
    rules = all_rules()
    if select is None:
        return list(rules.values())
    prefixes = tuple(s.upper() for s in select)
    return [rule for code, rule in rules.items() if code.startswith(prefixes)]


def _suppressed(line_text: str, code: str) -> bool:
    match = _NOQA.search(line_text)
    if match is None:
        return False
    codes = match.group("codes")
    return codes is None or code in re.split(r"[\s,]+", codes.upper())


def syntax_diagnostic(source: str, path: str, fallback: str | None = None) -> Diagnostic | None:
    """AL000 for text Python cannot compile (None when it compiles and ``fallback`` is None).

    Python's own message and position are clearer than libcst's, so they are preferred;
    ``fallback`` is libcst's reason for code that Python accepts but libcst does not.
    """
    try:
        compile(source, path, "exec", flags=_ONLY_AST, dont_inherit=True)
    except SyntaxError as exc:
        line = exc.lineno or 1
        column = exc.offset or 1
        what = (exc.msg or "invalid syntax").splitlines()[0]
        end_line = exc.end_lineno or line
        end_column = exc.end_offset or column
        return Diagnostic(
            SYNTAX_CODE, f"syntax error: {what}", path, line, column, end_line, end_column
        )
    except (ValueError, UnicodeError) as exc:  # null bytes, bad encoding declaration
        return Diagnostic(SYNTAX_CODE, f"cannot read source: {exc}", path, 1, 1, 1, 1)
    if fallback is None:
        return None
    return Diagnostic(SYNTAX_CODE, f"libcst cannot parse this file: {fallback}", path, 1, 1, 1, 1)


_ONLY_AST = 0x400  # ast.PyCF_ONLY_AST, without importing ast: compile checks syntax only


def _libcst_reason(exc: cst.ParserSyntaxError) -> str:
    text = exc.message.splitlines()[0] if exc.message else "syntax error"
    text = re.sub(r"^parser error:\s*", "", text)
    return text if len(text) <= 120 else text[:117] + "..."


@dataclass(slots=True)
class Analysis:
    """One lint pass over one text: findings, plus what the fixer needs to edit it."""

    source: str
    diagnostics: list[Diagnostic]
    module: cst.Module | None = None
    positions: Mapping[cst.CSTNode, CodeRange] = field(default_factory=dict)
    # The project index: this file's summary (None when it was not parsed) and the
    # findings that wait on another function's summary (see attnlint.lint.project).
    summary: ModuleSummary | None = None
    pending: list[Pending] = field(default_factory=list)


def analyse(
    source: str,
    path: str = "<string>",
    rules: Iterable[type[Rule]] | None = None,
    options: Mapping[str, BaseModel] | None = None,
    check_syntax: bool = False,
    resolve: bool = True,
    index: bool = False,
) -> Analysis:
    """Lint one text. ``check_syntax`` also compiles files that no rule could fire on,
    so that a broken file is AL000 even when libcst never needed to read it.

    ``resolve``: decide the pending findings whose callee is in this same text (the
    runner passes False and decides them all in phase 2, across files). ``index``: parse
    and summarise even when no rule's trigger occurs (a module another file imports).
    """
    rules = list(rules) if rules is not None else select_rules()
    active = [rule for rule in rules if any(t in source for t in rule.triggers)]
    if not active and not index:
        broken = syntax_diagnostic(source, path) if check_syntax else None
        return Analysis(source, [broken] if broken else [])
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        broken = syntax_diagnostic(source, path, fallback=_libcst_reason(exc))
        return Analysis(source, [broken] if broken else [])
    except RecursionError:
        broken = syntax_diagnostic(source, path, fallback="nesting too deep")
        return Analysis(source, [broken] if broken else [])
    context = RuleContext.for_module(path, source, module)
    options = options or {}
    # The indexer goes first: a rule's visit_FunctionDef finds the function's summary.
    visitors = [Indexer(context.index), *(rule(context, options.get(rule.code)) for rule in active)]
    visit_batched(module, visitors)
    summary = context.index.summary
    waiting = [item.node for item in context.index.waiting]
    if not context.reports and not waiting:
        return Analysis(source, [], module, summary=summary)
    # Only the reported nodes: libcst's PositionProvider would cost more than the parse.
    positions = node_ranges(module, source, [r.node for r in context.reports] + waiting)
    diagnostics = _diagnostics(context, context.reports, positions)
    lines = NEWLINE.split(source)
    pending = [
        p
        for p in context.index.finish(positions)
        if not _suppressed(lines[p.line - 1] if p.line - 1 < len(lines) else "", p.code)
    ]
    if resolve and pending:
        from attnlint.lint.project import Project

        project = Project()
        diagnostics += project.decide(project.add(None, path, summary), pending)
        diagnostics.sort(key=lambda d: (d.line, d.column, d.code))
        pending = []
    return Analysis(source, diagnostics, module, positions, summary, pending)


def lint_source(
    source: str,
    path: str = "<string>",
    rules: Iterable[type[Rule]] | None = None,
    options: Mapping[str, BaseModel] | None = None,
) -> list[Diagnostic]:
    """Lint one file's text. ``options`` maps a rule code to its validated Options."""
    return analyse(source, path, rules, options).diagnostics


def resolve(context: RuleContext, reports: list[Report]) -> list[Diagnostic]:
    """Positions for the reported nodes (one codegen pass, only for files with findings)."""
    if not reports:
        return []
    positions = node_ranges(context.module, context.source, [report.node for report in reports])
    return _diagnostics(context, reports, positions)


def _diagnostics(
    context: RuleContext, reports: list[Report], positions: Mapping[cst.CSTNode, CodeRange]
) -> list[Diagnostic]:
    lines = NEWLINE.split(context.source)
    out: list[Diagnostic] = []
    seen: set[tuple[str, int, int, int, int]] = set()
    for report in reports:
        where = positions[report.node]
        start, end = where.start, where.end
        text = lines[start.line - 1] if start.line - 1 < len(lines) else ""
        if _suppressed(text, report.code):
            continue
        key = (report.code, start.line, start.column, end.line, end.column)
        if key in seen:  # two visits of one node (e.g. nested triggers) report once
            continue
        seen.add(key)
        out.append(
            Diagnostic(
                code=report.code,
                message=report.message,
                path=context.path,
                line=start.line,
                column=start.column + 1,
                end_line=end.line,
                end_column=end.column + 1,
                fix=report.fix,
            )
        )
    out.sort(key=lambda d: (d.line, d.column, d.code))
    return out
