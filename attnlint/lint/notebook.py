"""Jupyter notebooks: the code cells as one module, findings mapped back to their cell.

A notebook is read with the json module (nbformat is not needed at run time). Its code
cells are joined into one text, in order, so that an import in the first cell resolves a
call in the fifth as the kernel would; a comment line with a per-notebook marker opens
each cell, so a fixed text splits back into the cells it came from. IPython syntax that
is not Python (``%magic``, ``!shell``, ``obj?``) is masked line by line with a ``pass``
that keeps the line count and indentation, and put back when a fixed cell is written;
a cell with a cell magic other than the Python-bodied ones (``%%time``...) is skipped.
A cell that CPython does not compile is one AL000 finding and sits out of the module.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tokenize
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from attnlint.lint.diagnostic import Diagnostic

if TYPE_CHECKING:  # the runner imports this module; these only type its work item
    from attnlint.lint.rule import Rule
    from attnlint.lint.runner import FileResult, Job

SYNTAX_CODE = "AL000"
# Findings on a whole text: CPython or libcst could not read it (AL001: valid Python that
# libcst cannot parse, or nesting too deep for the rules).
_WHOLE_FILE = frozenset({SYNTAX_CODE, "AL001"})
# Cell magics whose body is Python run by the kernel: the body is linted.
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug"})
_TOP_LEVEL_AWAIT = 0x2000  # ast.PyCF_ALLOW_TOP_LEVEL_AWAIT: IPython runs `await` in cells
_HELP = re.compile(r"^\s*(\?{1,2}\s*\S.*|[\w.\[\]()'\"]+\s*\?{1,2}\s*)$")
_ASSIGNED_MAGIC = re.compile(r"^\s*[A-Za-z_][\w.]*(\s*,\s*[A-Za-z_][\w.]*)*\s*=\s*[%!]")


class NotebookError(Exception):
    """A file named ``.ipynb`` that is not a notebook this module can read."""


@dataclass(slots=True)
class Cell:
    number: int  # 1-based, over all cells (markdown included), as a notebook shows them
    source: str
    as_list: bool  # how the file stores ``source``: a list of lines or one string
    masked: str = ""  # ``source`` with IPython syntax masked; "" for a skipped cell
    magics: dict[int, str] = field(default_factory=dict)  # masked line index -> original
    error: Diagnostic | None = None


@dataclass(slots=True)
class Notebook:
    data: dict[str, Any]
    text: str
    cells: list[Cell]
    python: bool = True
    nonce: str = ""

    def marker(self, cell: Cell) -> str:
        return f"# attnlint-cell {self.nonce} {cell.number}"

    def placeholder(self, line: int) -> str:
        return f"pass  # attnlint-magic {self.nonce} {line}"


def load(data: bytes) -> Notebook:
    """Parse a notebook; NotebookError with a one-line reason when it is not one."""
    try:
        text = data.decode("utf-8")
        parsed = json.loads(text.removeprefix("\ufeff"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise NotebookError(f"not a notebook (invalid JSON: {reason})") from None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("cells"), list):
        raise NotebookError("not a notebook (no list of cells; nbformat 4 is supported)")
    cells: list[Cell] = []
    for number, raw in enumerate(parsed["cells"], 1):
        if not isinstance(raw, dict) or raw.get("cell_type") != "code":
            continue
        source = raw.get("source", "")
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            cells.append(Cell(number, "".join(source), True))
        elif isinstance(source, str):
            cells.append(Cell(number, source, False))
        else:
            raise NotebookError(f"not a notebook (cell {number}: source is not text)")
    nonce = hashlib.blake2b(data, digest_size=6).hexdigest()
    notebook = Notebook(parsed, text, cells, _is_python(parsed), nonce)
    for cell in cells:
        _mask(notebook, cell)
    return notebook


def _is_python(data: dict[str, Any]) -> bool:
    metadata = data.get("metadata")
    if not isinstance(metadata, dict):
        return True
    for key, name in (("language_info", "name"), ("kernelspec", "language")):
        info = metadata.get(key)
        if isinstance(info, dict) and isinstance(info.get(name), str):
            return info[name].lower() == "python"
    return True


def _compile_error(text: str, flags: int = _TOP_LEVEL_AWAIT) -> tuple[str, int, int] | None:
    """CPython's complaint about a cell (message, line, column), or None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an invalid escape warns; it is no error
            compile(text, "<cell>", "exec", flags=flags, dont_inherit=True)
    except SyntaxError as exc:
        return (exc.msg or "invalid syntax").splitlines()[0], exc.lineno or 1, exc.offset or 1
    except (ValueError, RecursionError, MemoryError) as exc:
        return (str(exc) or "too deeply nested").splitlines()[0], 1, 1
    return None


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


def lines_of(text: str) -> list[str]:
    """Lines as the engine counts them (``\\f`` and friends do not end a line)."""
    return _LINE.findall(text)


def _mask(notebook: Notebook, cell: Cell) -> None:
    """Fill ``cell.masked`` / ``cell.magics`` / ``cell.error``."""
    lines = lines_of(cell.source)
    first = lines[0].strip() if lines else ""
    if first.startswith("%%"):
        name = first[2:].split(maxsplit=1)[0] if first[2:].strip() else ""
        if name not in PYTHON_CELL_MAGICS:
            return  # %%bash, %%html, %%writefile...: not Python
        lines, cell.magics = [notebook.placeholder(0) + "\n", *lines[1:]], {0: lines[0]}
    text = "".join(lines)
    if _compile_error(text) is not None:
        starts = _statement_starts(text)
        out: list[str] = []
        continued = False
        for index, line in enumerate(lines):
            body = line.rstrip("\r\n")
            if index in cell.magics:
                out.append(line)
                continue
            stripped = body.lstrip()
            if continued or (_is_magic(body) and (starts is None or index in starts)):
                indent = body[: len(body) - len(stripped)]
                if continued and out:  # keep a continuation at its magic's indentation
                    indent = re.match(r"\s*", out[-1]).group(0)  # type: ignore[union-attr]
                cell.magics[index] = line
                out.append(indent + notebook.placeholder(index) + line[len(body) :])
                continued = body.endswith("\\")
            else:
                out.append(line)
        text = "".join(out)
    if text and not text.endswith(("\n", "\r")):
        text += "\n"
    cell.masked = text
    error = _compile_error(text)
    if error is not None:
        message, line, column = error
        cell.error = Diagnostic(
            SYNTAX_CODE, f"syntax error: {message}", "", line, column, line, column
        )
        cell.masked = ""
    elif ("await" in text or "async" in text) and _compile_error(text, 0) is not None:
        # Top-level ``await``: IPython runs it, a module may not; the engine compiles the
        # joined cells as a module, so this cell stays out rather than be a false AL000.
        cell.masked = ""


_LAYOUT = frozenset({tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT,
                     tokenize.DEDENT, tokenize.ENDMARKER})  # fmt: skip


def _statement_starts(text: str) -> set[int] | None:
    """0-based lines where a statement starts: a ``%`` continuing a bracketed expression
    or a ``!`` inside a triple-quoted string is no magic. None when the text does not
    tokenize (a quote in a shell line can open a string that never closes)."""
    starts: set[int] = set()
    depth, fresh = 0, True
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type in _LAYOUT:
                fresh = fresh or token.type == tokenize.NEWLINE or depth == 0
                continue
            if fresh and depth == 0:
                starts.add(token.start[0] - 1)
                fresh = False
            if token.type == tokenize.OP and token.string in "([{":
                depth += 1
            elif token.type == tokenize.OP and token.string in ")]}":
                depth = max(0, depth - 1)
    except (tokenize.TokenError, SyntaxError):
        return None
    return starts


def _is_magic(line: str) -> bool:
    stripped = line.lstrip()
    if stripped.startswith(("%", "!")):
        return True
    return bool(_HELP.match(line) or _ASSIGNED_MAGIC.match(line))


# -- one module from the cells --------------------------------------------------------


@dataclass(slots=True)
class Joined:
    text: str
    where: list[tuple[int, int]]  # 0-based line of ``text`` -> (cell number, 1-based line)


def join(notebook: Notebook, skip: Iterable[int] = ()) -> Joined:
    skipped = set(skip)
    parts: list[str] = []
    where: list[tuple[int, int]] = []
    for cell in notebook.cells:
        if not cell.masked or cell.number in skipped:
            continue
        parts.append(notebook.marker(cell) + "\n")
        where.append((cell.number, 0))
        parts.append(cell.masked)
        where.extend((cell.number, n) for n in range(1, len(lines_of(cell.masked)) + 1))
    return Joined("".join(parts), where)


def _locate(d: Diagnostic, joined: Joined, path: str) -> Diagnostic:
    last = len(joined.where) - 1
    cell, line = joined.where[min(max(d.line - 1, 0), last)] if joined.where else (0, d.line)
    end_cell, end_line = joined.where[min(max(d.end_line - 1, 0), last)] if joined.where else (0, 1)
    if end_cell != cell:
        end_line, end_column = line, d.column
    else:
        end_column = d.end_column
    return replace(d, path=path, cell=cell, line=max(line, 1), end_line=max(end_line, 1),
                   end_column=end_column)  # fmt: skip


def lint(
    notebook: Notebook,
    path: str,
    rules: list[type[Rule]],
    options: Mapping[str, Any] | None,
    check_syntax: bool = True,
) -> list[Diagnostic]:
    """Findings for every code cell, located in their cell."""
    if not notebook.python:
        return []
    out = [
        replace(cell.error, path=path, cell=cell.number)
        for cell in notebook.cells
        if cell.error is not None and check_syntax
    ]
    joined, found, left_out = settle(notebook, path, rules, options)
    out.extend(left_out)
    out.extend(_locate(d, joined, path) for d in found)
    out.sort(key=lambda d: (d.cell or 0, d.line, d.column, d.code))
    return out


def settle(
    notebook: Notebook,
    path: str,
    rules: list[type[Rule]],
    options: Mapping[str, Any] | None,
) -> tuple[Joined, list[Diagnostic], list[Diagnostic]]:
    """The joined module that can be read, its findings, and the findings on the cells
    that had to be left out of it."""
    from attnlint.lint.engine import analyse

    skip: list[int] = []
    left_out: list[Diagnostic] = []
    while True:
        joined = join(notebook, skip)
        found = analyse(joined.text, path, rules, options).diagnostics
        whole = next((d for d in found if d.code in _WHOLE_FILE), None)
        if whole is None:
            return joined, found, left_out
        # Every cell compiled on its own, so the joined text failed where cells meet (a
        # ``from __future__`` import in a later cell: that cell sits out) or libcst
        # refused a cell (AL001 on that cell, as for a file, and the others still run).
        where = joined.where[whole.line - 1] if 0 < whole.line <= len(joined.where) else None
        if whole.code == SYNTAX_CODE and where is not None and where[1] > 0:
            skip.append(where[0])
            continue
        cell = _libcst_refuses(notebook, skip)
        if cell is None:
            return joined, found, left_out
        skip.append(cell.number)
        left_out.append(replace(whole, path=path, cell=cell.number, line=1, column=1,
                                end_line=1, end_column=1))  # fmt: skip


def _libcst_refuses(notebook: Notebook, skip: list[int]) -> Cell | None:
    import libcst as cst

    for cell in notebook.cells:
        if not cell.masked or cell.number in skip:
            continue
        try:
            cst.parse_module(cell.masked)
        except (cst.ParserSyntaxError, RecursionError):
            return cell
    return None


# -- the runner's work item for a notebook --------------------------------------------


def process(
    result: FileResult,
    data: bytes,
    job: Job,
    rules: list[type[Rule]],
    options: Mapping[str, Any] | None,
) -> FileResult:
    """Check, fix or diff one notebook, as ``runner.process`` does a ``.py`` file."""
    from attnlint.lint.cache import content_key, to_entry
    from attnlint.lint.fixer import WriteError, unified_diff, write_into
    from attnlint.lint.notebook_fix import fix

    result.key = content_key(data)
    try:
        notebook = load(data)
    except NotebookError as exc:
        broken = Diagnostic(SYNTAX_CODE, str(exc), result.display, 1, 1, 1, 1)
        result.entry = to_entry([broken]) if SYNTAX_CODE in job.codes else []
        return result
    if job.mode != "check":
        ignored = job.per_file.codes_for(result.path)
        file_rules = [r for r in rules if not any(r.code.startswith(c) for c in ignored)]
        text, applied = fix(notebook, result.display, file_rules, options, job.unsafe)
        if text != notebook.text and job.mode == "diff":
            result.diff = unified_diff(notebook.text, text, result.display)
            result.applied = applied
        elif text != notebook.text:
            new = text.encode("utf-8")
            try:
                write_into(result.path, new, data)
            except WriteError as exc:
                result.error = f"{result.display}: {exc}"
            else:
                result.applied = applied
                result.key = content_key(new)
                notebook = load(new)
    found = lint(notebook, result.display, rules, options, job.check_syntax)
    result.entry = to_entry(found)
    return result
