"""One file through the rules: text -> trigger check -> parse -> one batched pass -> findings."""

from __future__ import annotations

import re
import sys
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import libcst as cst
from libcst.metadata import CodeRange

from attnlint.lint.diagnostic import Diagnostic
from attnlint.lint.index import ModuleSummary, Pending
from attnlint.lint.parsing import collector_paused, parse_module
from attnlint.lint.positions import node_ranges
from attnlint.lint.rule import Report, Rule, RuleContext
from attnlint.lint.rules import all_rules
from attnlint.lint.summary import Indexer
from attnlint.lint.walk import visit_batched

_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?", re.I)
# libcst counts lines on these; str.splitlines would also split on \f, \v, \x1c... and drift.
NEWLINE = re.compile(r"\r\n|\r|\n")

SYNTAX_CODE = "AL000"
# A file CPython accepts that libcst cannot parse (or that nests beyond what the rules can
# walk): not a syntax error, but its rules did not run.
UNCHECKED_CODE = "AL001"


def select_rules(select: Iterable[str] | None = None) -> list[type[Rule]]:
    """Rules whose code starts with one of ``select`` (``AL1`` selects AL101-AL104)."""
    rules = all_rules()
    if select is None:
        return list(rules.values())
    prefixes = tuple(s.upper() for s in select)
    return [rule for code, rule in rules.items() if code.startswith(prefixes)]


def suppressed(line_text: str, code: str) -> bool:
    match = _NOQA.search(line_text)
    if match is None:
        return False
    codes = match.group("codes")
    return codes is None or code in re.split(r"[\s,]+", codes.upper())


def syntax_diagnostic(source: str | bytes, path: str) -> Diagnostic | None:
    """AL000 when CPython's full ``compile()`` rejects the text, else None.

    The full compile (symbol table and code generation, not only the grammar) also rejects
    a module-level ``return``, duplicate arguments and unknown ``__future__`` features.
    Given bytes, CPython decodes them itself (BOM, coding cookie), so decoding errors are
    exactly its own. Warnings are silenced: they are not errors, and under ``-W error``
    compile would turn an invalid escape's warning into a SyntaxError.
    """
    try:
        _compile_like_a_script(source, path)
    except SyntaxError as exc:
        what = (exc.msg or "invalid syntax").splitlines()[0]
        if what.startswith("(unicode error)"):
            what = what.removeprefix("(unicode error)").strip()
            return _whole_file(f"cannot decode source: {what}", path)
        line = exc.lineno or 1
        column = exc.offset or 1
        end_line = max(exc.end_lineno or line, line)
        end_column = exc.end_offset or column
        if end_line == line:
            end_column = max(end_column, column)
        return Diagnostic(
            SYNTAX_CODE,
            f"syntax error: {what}",
            path,
            max(line, 1),
            max(column, 1),
            max(end_line, 1),
            max(end_column, 1),
        )
    except RecursionError:
        return _whole_file(_TOO_DEEP, path)
    except MemoryError:
        return _whole_file("too large or too deeply nested for CPython's compiler", path)
    except (ValueError, UnicodeError, OverflowError) as exc:  # null bytes, bad encoding
        return _whole_file(f"cannot read source: {_first_line(exc)}", path)
    return None


def _compile_like_a_script(source: str | bytes, path: str) -> None:
    """``compile()`` with the nesting budget it has when a script calls it.

    CPython's compiler allows about three levels of nesting per Python frame left under
    the recursion limit, so the same deep file compiles at the top of a script and fails
    from deep inside a worker. The limit is set, for this call, to the default one plus
    the frames this call sits under beyond those of a script that calls ``compile`` from
    a function (module, function, and this helper's own): the verdict is that script's,
    wherever attnlint runs (tested at the boundary against a fresh interpreter).
    """
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth += 1
        frame = frame.f_back
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(_DEFAULT_RECURSION_LIMIT + max(0, depth - 3))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, path, "exec", dont_inherit=True)
    finally:
        sys.setrecursionlimit(old)


_DEFAULT_RECURSION_LIMIT = 1000  # CPython's, whatever this process has set it to
_TOO_DEEP = "too deeply nested: CPython's compiler gives up (maximum recursion depth exceeded)"


def _first_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _whole_file(message: str, path: str, code: str = SYNTAX_CODE) -> Diagnostic:
    return Diagnostic(code, message, path, 1, 1, 1, 1)


def unchecked_diagnostic(path: str, reason: str) -> Diagnostic:
    """AL001: CPython compiles the file but attnlint could not read it, so no rule ran."""
    return _whole_file(
        f"valid Python that attnlint cannot analyse ({reason}); no rule checked this file",
        path,
        UNCHECKED_CODE,
    )


def _libcst_reason(exc: cst.ParserSyntaxError) -> str:
    text = exc.message.splitlines()[0] if exc.message else "syntax error"
    text = re.sub(r"^parser error:\s*", "", text)
    text = text.split(": expected one of")[0]  # the token list says nothing to a user
    text = f"libcst: {text}"
    return text if len(text) <= 120 else text[:117] + "..."


# libcst takes str; undecodable bytes CPython tolerates (in comments) arrive as U+FFFD.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


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
    options: Mapping[str, Any] | None = None,
    check_syntax: bool = False,
    resolve: bool = True,
    index: bool = False,
    data: bytes | None = None,
) -> Analysis:
    """Lint one text (see ``_analyse``); ``data``: the file's bytes, which CPython's
    compile decodes itself. Nesting that CPython compiles but that is too deep for libcst
    or for a rule's recursion is AL001, never an exception."""
    try:
        with collector_paused():
            return _analyse(source, path, rules, options, check_syntax, resolve, index, data)
    except RecursionError:
        return Analysis(source, [unchecked_diagnostic(path, "nested too deeply")])
    except MemoryError:
        return Analysis(source, [unchecked_diagnostic(path, "out of memory")])


def _analyse(
    source: str,
    path: str,
    rules: Iterable[type[Rule]] | None,
    options: Mapping[str, Any] | None,
    check_syntax: bool,
    resolve: bool,
    index: bool,
    data: bytes | None,
) -> Analysis:
    """Lint one text. ``check_syntax`` also compiles files that no rule could fire on,
    so that a broken file is AL000 even when libcst never needed to read it.

    ``resolve``: decide the pending findings whose callee is in this same text (the
    runner passes False and decides them all in phase 2, across files). ``index``: parse
    and summarise even when no rule's trigger occurs (a module another file imports).
    """
    rules = list(rules) if rules is not None else select_rules()
    active = [rule for rule in rules if any(t in source for t in rule.triggers)]
    compiled = data if data is not None else source
    if not active and not index:
        broken = syntax_diagnostic(compiled, path) if check_syntax else None
        return Analysis(source, [broken] if broken else [])
    # compile() first, always: it is the judge of AL000, and it turns away the over-deep
    # input that would send libcst's native parser into a stack overflow.
    broken = syntax_diagnostic(compiled, path)
    if broken is not None:
        return Analysis(source, [broken])
    text = _LONE_SURROGATE.sub("\ufffd", source)
    try:
        module = parse_module(text)
    except cst.ParserSyntaxError as exc:
        return Analysis(source, [unchecked_diagnostic(path, _libcst_reason(exc))])
    context = RuleContext.for_module(path, source, module)
    options = options or {}
    # The indexer goes first: a rule's visit_FunctionDef finds the function's summary.
    visitors = [Indexer(context.index), *(rule(context, options.get(rule.code)) for rule in active)]
    visit_batched(module, visitors)
    summary = context.index.summary
    waiting = context.index.nodes()  # pending findings and facts placed on a node
    if not context.reports and not waiting:
        return Analysis(source, [], module, summary=summary)
    # Only the reported nodes: libcst's PositionProvider would cost more than the parse.
    positions = node_ranges(module, source, [r.node for r in context.reports] + waiting)
    diagnostics = _diagnostics(context, context.reports, positions)
    lines = NEWLINE.split(source)
    pending = [
        p
        for p in context.index.finish(positions)
        if not suppressed(lines[p.line - 1] if p.line - 1 < len(lines) else "", p.code)
    ]
    if resolve and pending:
        from attnlint.lint.project import Project

        project = Project()
        taken = [(d.code, d.line, d.column) for d in diagnostics]
        diagnostics += project.decide(project.add(None, path, summary), pending, taken)
        diagnostics.sort(key=lambda d: (d.line, d.column, d.code))
        pending = []
    return Analysis(source, diagnostics, module, positions, summary, pending)


def lint_source(
    source: str,
    path: str = "<string>",
    rules: Iterable[type[Rule]] | None = None,
    options: Mapping[str, Any] | None = None,
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
        if suppressed(text, report.code):
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
