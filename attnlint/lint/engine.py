"""One file through the rules: text -> trigger check -> parse -> one batched pass -> findings."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider
from pydantic import BaseModel

from attnlint.lint.diagnostic import Diagnostic
from attnlint.lint.rule import Report, Rule, RuleContext
from attnlint.lint.rules import all_rules

_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?", re.I)


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


def lint_source(
    source: str,
    path: str = "<string>",
    rules: Iterable[type[Rule]] | None = None,
    options: Mapping[str, BaseModel] | None = None,
) -> list[Diagnostic]:
    """Lint one file's text. ``options`` maps a rule code to its validated Options."""
    rules = list(rules) if rules is not None else select_rules()
    active = [rule for rule in rules if any(t in source for t in rule.triggers)]
    if not active:
        return []
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        line, col = exc.raw_line, exc.raw_column
        return [
            Diagnostic(
                "AL000", f"file does not parse: {exc.message}", path, line, col + 1, line, col + 1
            )
        ]
    context = RuleContext.for_module(path, source, module)
    options = options or {}
    visitors = [rule(context, options.get(rule.code)) for rule in active]
    cst.visit_batched(module, visitors)
    return resolve(context, context.reports)


def resolve(context: RuleContext, reports: list[Report]) -> list[Diagnostic]:
    """Positions for the reported nodes (one codegen pass, only for files with findings)."""
    if not reports:
        return []
    positions = MetadataWrapper(context.module, unsafe_skip_copy=True).resolve(PositionProvider)
    lines = context.source.splitlines()
    out: list[Diagnostic] = []
    for report in reports:
        where = positions[report.node]
        start, end = where.start, where.end
        text = lines[start.line - 1] if start.line - 1 < len(lines) else ""
        if _suppressed(text, report.code):
            continue
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
