"""Fixes in a notebook: the fixed module split back into its cells, the IPython lines put
back, and only the changed cells' ``source`` rewritten, in the file's own JSON layout.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from attnlint.lint.notebook import Cell, Notebook, lines_of, settle

if TYPE_CHECKING:
    from attnlint.lint.rule import Rule


def fix(
    notebook: Notebook,
    path: str,
    rules: list[type[Rule]],
    options: Mapping[str, Any] | None,
    unsafe: bool = False,
) -> tuple[str, int]:
    """The notebook's text with the fixes applied (unchanged when none applies), and how
    many were applied. Only the ``source`` of changed cells differs."""
    from attnlint.lint.fixer import apply_fixes

    if not notebook.python:
        return notebook.text, 0
    joined, _, _ = settle(notebook, path, rules, options)
    result = apply_fixes(joined.text, path, rules, options, unsafe=unsafe)
    if not result.applied:
        return notebook.text, 0
    fixed = _split(notebook, result.source)
    if fixed is None:
        return notebook.text, 0
    changed = False
    by_number = {cell.number: cell for cell in notebook.cells}
    for number, text in fixed.items():
        cell = by_number[number]
        source = _unmask(notebook, cell, text)
        if source is None:
            return notebook.text, 0
        if source != cell.source:
            raw = notebook.data["cells"][number - 1]
            # nbformat's own split, so a notebook it wrote reads back as it wrote it
            raw["source"] = source.splitlines(keepends=True) if cell.as_list else source
            changed = True
    if not changed:
        return notebook.text, 0
    bom = "\ufeff" if notebook.text.startswith("\ufeff") else ""
    return bom + dumps_like(notebook.data, notebook.text.removeprefix(bom)), result.applied


def _split(notebook: Notebook, text: str) -> dict[int, str] | None:
    """Fixed module text -> cell number -> fixed masked text; None if a marker moved."""
    out: dict[int, str] = {}
    current: int | None = None
    prefix = f"# attnlint-cell {notebook.nonce} "
    for line in lines_of(text):
        if line.startswith(prefix):
            current = int(line[len(prefix) :].strip())
            out[current] = ""
        elif current is None:
            return None
        else:
            out[current] += line
    return out


def _unmask(notebook: Notebook, cell: Cell, text: str) -> str | None:
    """The fixed cell with its IPython lines back; None when one of them was lost."""
    lines = lines_of(text)
    marks = {notebook.placeholder(i): i for i in cell.magics}
    seen: set[int] = set()
    for index, line in enumerate(lines):
        key = line.strip()
        if key in marks:
            seen.add(marks[key])
            lines[index] = cell.magics[marks[key]]
    if seen != set(cell.magics):
        return None
    source = "".join(lines)
    if not cell.source.endswith(("\n", "\r")) and source.endswith("\n"):
        source = source[:-1]
    return source


def dumps_like(data: dict[str, Any], original: str) -> str:
    """``data`` as JSON in the layout of ``original`` (indent, separators, escaping, final
    newline), key order kept, so that the cells and outputs a fix did not touch come out
    as they went in. nbformat's own layout when no candidate reproduces the original."""
    newline = "\n" if original.endswith("\n") else ""
    try:
        before = json.loads(original.removeprefix("\ufeff"))
    except ValueError:
        before = None
    match = re.search(r"\n( *)\S", original)
    indent = len(match.group(1)) if match else None
    styles = [
        (indent, separators, ascii_only)
        for separators in ((",", ": "), (", ", ": "), (",", ":"))
        for ascii_only in (False, True)
    ]
    for indent_, separators, ascii_only in styles:
        kwargs = {"indent": indent_, "separators": separators, "ensure_ascii": ascii_only}
        if before is not None and json.dumps(before, **kwargs) + newline == original:
            return json.dumps(data, **kwargs) + newline
    return json.dumps(data, indent=1, separators=(",", ": "), ensure_ascii=False) + "\n"
