"""Output formats for findings: full, concise, json, sarif, github; and --statistics.

Each formatter returns text; the CLI decides where it goes. Colour is added only for a
terminal (and never when ``NO_COLOR`` is set), so piped output is plain and stable.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TextIO

from attnlint import __version__
from attnlint.lint.diagnostic import Diagnostic
from attnlint.lint.pages import rule_page

FORMATS = ("full", "concise", "json", "sarif", "github")
SYNTAX_NAME = "syntax-error"
SYNTAX_SUMMARY = "the file does not parse"
UNCHECKED_NAME = "unchecked-file"
UNCHECKED_SUMMARY = "valid Python that attnlint could not analyse: no rule ran on it"


def rule_catalogue() -> dict[str, tuple[str, str]]:
    """code -> (name, summary), AL000 included."""
    from attnlint.lint.rules import all_rules

    out = {"AL000": (SYNTAX_NAME, SYNTAX_SUMMARY), "AL001": (UNCHECKED_NAME, UNCHECKED_SUMMARY)}
    out.update({code: (rule.name, rule.summary) for code, rule in all_rules().items()})
    return out


def _marker(d: Diagnostic) -> str:
    return " [*]" if d.fixable and d.fix and d.fix.applicability == "safe" else ""


def concise(diagnostics: Sequence[Diagnostic], color: bool = False) -> str:
    return "".join(
        f"{_where(d, color)} {_code(d.code, color)}{_marker(d)} {d.message}\n" for d in diagnostics
    )


def location(d: Diagnostic) -> str:
    """``path:line:col``, or ``nb.ipynb:cell 3:line:col`` for a notebook's finding."""
    cell = f"cell {d.cell}:" if d.cell is not None else ""
    return f"{d.path}:{cell}{d.line}:{d.column}"


def _where(d: Diagnostic, color: bool) -> str:
    if not color:
        return f"{location(d)}:"
    return f"\x1b[1m{d.path}\x1b[0m:{location(d)[len(d.path) + 1 :]}:"


def _code(code: str, color: bool) -> str:
    return f"\x1b[1;31m{code}\x1b[0m" if color else code


# The engine's NEWLINE (libcst's line breaks), not imported from there: that would load
# libcst and every rule to print a cached run's findings.
NEWLINE = re.compile(r"\r\n|\r|\n")


class _Sources:
    """Source lines of the reported files (of each notebook cell), each file read once."""

    def __init__(self) -> None:
        self._lines: dict[tuple[str, int | None], list[str]] = {}

    def line(self, path: str, number: int, cell: int | None = None) -> str | None:
        if (path, cell) not in self._lines:
            self._read(path, cell)
        lines = self._lines.get((path, cell), [])
        return lines[number - 1] if 0 < number <= len(lines) else None

    def _read(self, path: str, cell: int | None) -> None:
        try:
            data = Path(path).read_bytes()
        except OSError:
            self._lines[(path, cell)] = []
            return
        if cell is None:
            self._lines[(path, None)] = NEWLINE.split(data.decode("utf-8", errors="replace"))
            return
        from attnlint.lint.notebook import NotebookError, load

        try:
            cells = load(data).cells
        except NotebookError:
            cells = []
        for found in cells:
            self._lines[(path, found.number)] = NEWLINE.split(found.source)
        self._lines.setdefault((path, cell), [])


def full(diagnostics: Sequence[Diagnostic], color: bool = False) -> str:
    """ruff-like: location and message, then the source line with the span underlined."""
    sources = _Sources()
    out: list[str] = []
    for d in diagnostics:
        out.append(f"{_where(d, color)} {_code(d.code, color)}{_marker(d)} {d.message}\n")
        text = sources.line(d.path, d.line, d.cell)
        if text is None:
            continue
        text = text.rstrip("\r\n")
        gutter = " " * len(str(d.line))
        start = len(text[: d.column - 1].expandtabs(4))
        if d.end_line == d.line:
            stop = len(text[: d.end_column - 1].expandtabs(4))
        else:
            stop = len(text.expandtabs(4))
        marks = "^" * max(1, stop - start)
        if color:
            marks = f"\x1b[1;31m{marks}\x1b[0m"
        out.append(f"{gutter} |\n{d.line} | {text.expandtabs(4)}\n")
        out.append(f"{gutter} | {' ' * start}{marks}\n{gutter} |\n\n")
    return "".join(out)


def as_json(diagnostics: Sequence[Diagnostic]) -> str:
    return json.dumps([d.to_json() for d in diagnostics], indent=2) + "\n"


def _sarif_uri(path: str) -> str:
    p = Path(path)
    if p.is_absolute():
        return p.as_uri()
    return p.as_posix()


def sarif(diagnostics: Sequence[Diagnostic], codes: Iterable[str] | None = None) -> str:
    """SARIF 2.1.0: one run, the enabled rules as the driver's rules, one result each."""
    catalogue = rule_catalogue()
    wanted = sorted(set(codes if codes is not None else catalogue) | {d.code for d in diagnostics})
    rules = []
    index: dict[str, int] = {}
    for code in wanted:
        name, summary = catalogue.get(code, (code, code))
        index[code] = len(rules)
        rule = {
            "id": code,
            "name": name,
            "shortDescription": {"text": summary},
            "defaultConfiguration": {"level": "error"},
        }
        # The rule's own page travels with the log (code-scanning UIs render help.markdown),
        # so the help never depends on where attnlint happens to be hosted.
        page = rule_page(code)
        if page is not None:
            rule["help"] = {"text": f"{summary}. See `attnlint rule {code}`.", "markdown": page}
        rules.append(rule)
    results = []
    for d in diagnostics:
        results.append(
            {
                "ruleId": d.code,
                "ruleIndex": index[d.code],
                "level": "error",
                "message": {"text": d.message},
                **_sarif_cell(d),
                "locations": [
                    {
                        **({"message": {"text": location(d)}} if d.cell is not None else {}),
                        "physicalLocation": {
                            "artifactLocation": {"uri": _sarif_uri(d.path)},
                            "region": {
                                "startLine": d.line,
                                "startColumn": d.column,
                                "endLine": d.end_line,
                                "endColumn": d.end_column,
                            },
                        },
                    }
                ],
            }
        )
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "attnlint",
                        "version": __version__,
                        "rules": rules,
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"


def _sarif_cell(d: Diagnostic) -> dict[str, object]:
    """A notebook's cell as a result property: the region's lines count within it."""
    return {"properties": {"cell": d.cell}} if d.cell is not None else {}


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github(diagnostics: Sequence[Diagnostic]) -> str:
    """GitHub Actions workflow commands: one ``::error`` annotation per finding."""
    lines = []
    for d in diagnostics:
        props = (
            f"file={_escape_property(d.path)},line={d.line},col={d.column},"
            f"endLine={d.end_line},endColumn={d.end_column},title={d.code}"
        )
        # A notebook's line counts within its cell: the message says which cell.
        where = f"{location(d)}: " if d.cell is not None else ""
        lines.append(f"::error {props}::{_escape_data(f'{where}{d.code} {d.message}')}\n")
    return "".join(lines)


def statistics(diagnostics: Sequence[Diagnostic]) -> str:
    """Count per code, most frequent first: ``count  code  name  [*]``."""
    catalogue = rule_catalogue()
    counts = Counter(d.code for d in diagnostics)
    fixable = {d.code for d in diagnostics if d.fixable}
    width = max((len(str(n)) for n in counts.values()), default=1)
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return "".join(
        f"{n:>{width}}\t{code}\t{catalogue.get(code, (code, ''))[0]}"
        f"{'  [*]' if code in fixable else ''}\n"
        for code, n in rows
    )


def summary(diagnostics: Sequence[Diagnostic], color: bool = False, failed: int = 0) -> str:
    """The closing lines; ``failed``: files that could not be read or written back."""
    broken = ""
    if failed:
        broken = f"{failed} file{'s' if failed != 1 else ''} could not be read or written "
        broken += "(see the errors above).\n"
    if not diagnostics:
        return broken or "All checks passed!\n"
    n = len(diagnostics)
    text = broken + f"Found {n} error{'s' if n != 1 else ''}.\n"
    fixable = sum(1 for d in diagnostics if d.fixable and d.fix and d.fix.applicability == "safe")
    unsafe = sum(1 for d in diagnostics if d.fixable and d.fix and d.fix.applicability == "unsafe")
    if fixable:
        text += f"[*] {fixable} fixable with `attnlint check --fix`.\n"
    if unsafe:
        text += f"{unsafe} more fixable with `attnlint check --fix --unsafe-fixes`.\n"
    return text


def use_color(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty: Callable[[], bool] | None = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def render(
    fmt: str,
    diagnostics: Sequence[Diagnostic],
    color: bool = False,
    codes: Iterable[str] | None = None,
) -> str:
    if fmt == "full":
        return full(diagnostics, color)
    if fmt == "concise":
        return concise(diagnostics, color)
    if fmt == "json":
        return as_json(diagnostics)
    if fmt == "sarif":
        return sarif(diagnostics, codes)
    if fmt == "github":
        return github(diagnostics)
    raise ValueError(fmt)
