"""Fix application: node-anchored edits -> text edits -> applied in rounds until stable.

A rule's ``Fix`` holds ``Edit``s anchored on nodes of the module it saw. Each round lints
the current text, turns the fixes of that round's findings into offset ranges through the
nodes' positions, takes the fixes that do not overlap one already taken, applies them and
re-lints. A round whose result does not parse is discarded, so the caller never receives
text that does not parse.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import stat
import tempfile
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import libcst as cst
from libcst.metadata import CodePosition, CodeRange, MetadataWrapper, PositionProvider

from attnlint.lint.diagnostic import Diagnostic, Edit, Fix
from attnlint.lint.engine import NEWLINE, analyse, select_rules
from attnlint.lint.rule import Rule

MAX_ROUNDS = 10


@dataclass(slots=True)
class FixResult:
    source: str
    applied: int = 0
    remaining: list[Diagnostic] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.applied > 0


@dataclass(frozen=True, slots=True)
class TextEdit:
    start: int
    end: int
    content: str
    order: int = 0  # keeps several inserts at one offset in the order the rule gave them


class _Offsets:
    """(1-based line, 0-based column) -> offset into the text."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.starts = [0]
        for match in NEWLINE.finditer(source):
            self.starts.append(match.end())

    def at(self, line: int, column: int) -> int:
        if line - 1 >= len(self.starts):
            return len(self.source)
        return min(self.starts[line - 1] + column, len(self.source))

    def line_start(self, line: int) -> int:
        return self.at(line, 0)

    def next_line_start(self, line: int) -> int | None:
        """Offset of the line after ``line``; None when ``line`` is the last one."""
        return self.starts[line] if line < len(self.starts) else None

    def indent(self, line: int) -> str:
        start = self.line_start(line)
        text = self.source[start:]
        return text[: len(text) - len(text.lstrip(" \t"))]


_STATEMENT = (cst.SimpleStatementLine, cst.BaseCompoundStatement)


def _statement_range(
    node: cst.CSTNode, positions: Mapping[cst.CSTNode, CodeRange]
) -> CodeRange | None:
    """The range of the statement that holds ``node`` (decorators included)."""
    where = positions.get(node)
    if where is None:
        return None
    if not isinstance(node, _STATEMENT):
        # Smallest enclosing statement: anchoring an insert on an expression in the middle
        # of a multi-line call must not split that call.
        best: tuple[cst.CSTNode, CodeRange] | None = None
        for other, rng in positions.items():
            if (
                isinstance(other, _STATEMENT)
                and (rng.start.line, rng.start.column) <= (where.start.line, where.start.column)
                and (rng.end.line, rng.end.column) >= (where.end.line, where.end.column)
                and (best is None or (rng.start.line, rng.start.column) >= _start(best[1]))
            ):
                best = (other, rng)
        if best is None:
            return where
        node, where = best
    decorators = getattr(node, "decorators", ())
    if decorators and decorators[0] in positions:
        return CodeRange(positions[decorators[0]].start, where.end)
    return where


def _inline_start(
    edit: Edit, statement: CodeRange, positions: Mapping[cst.CSTNode, CodeRange]
) -> CodePosition | None:
    """Where an ``insert_before`` anchored on a small statement goes when that statement
    does not open its line (it follows a ``;`` or a compound header's ``:``); else None."""
    if edit.kind != "insert_before" or not isinstance(edit.node, cst.BaseSmallStatement):
        return None
    where = positions.get(edit.node)
    if where is None or _start(where) == _start(statement):
        return None
    return where.start


def _start(rng: CodeRange) -> tuple[int, int]:
    return (rng.start.line, rng.start.column)


def _render(content: str | cst.CSTNode, module: cst.Module) -> str:
    return content if isinstance(content, str) else module.code_for_node(content)


def _newline_of(source: str) -> str:
    match = NEWLINE.search(source)
    return match.group(0) if match else "\n"


def to_text_edits(
    fix: Fix,
    module: cst.Module,
    positions: Mapping[cst.CSTNode, CodeRange],
    offsets: _Offsets,
) -> list[TextEdit] | None:
    """The fix as offset edits; None when an anchor has no position (a stale node)."""
    newline = _newline_of(offsets.source)
    out: list[TextEdit] = []
    for order, edit in enumerate(fix.edits):
        text = _render(edit.content, module)
        if edit.kind == "replace":
            where = positions.get(edit.node)
            if where is None:
                return None
            start = offsets.at(where.start.line, where.start.column)
            end = offsets.at(where.end.line, where.end.column)
            out.append(TextEdit(start, end, text, order))
            continue
        where = _statement_range(edit.node, positions)
        if where is None:
            return None
        inline = _inline_start(edit, where, positions)
        if inline is not None:
            # ``a(); clip()`` or ``if x: clip()``: a line of its own would run before
            # ``a()`` (or outside the branch); the insert goes in front of the statement.
            if "\n" in text:
                return None
            at = offsets.at(inline.line, inline.column)
            out.append(TextEdit(at, at, f"{text}; ", order))
            continue
        indent = offsets.indent(where.start.line)
        block = "".join(
            (indent + line if line.strip() else "") + newline for line in text.split("\n")
        )
        if edit.kind == "insert_before":
            at = offsets.line_start(where.start.line)
            out.append(TextEdit(at, at, block, order))
        else:
            after = offsets.next_line_start(where.end.line)
            if after is None:  # last line without a trailing newline
                out.append(TextEdit(len(offsets.source), len(offsets.source), newline + block))
            else:
                out.append(TextEdit(after, after, block, order))
    return out


def _conflicts(a: TextEdit, b: TextEdit) -> bool:
    if a.start == a.end and b.start == b.end:
        return a.start == b.start  # two inserts at one point: their order would be a guess
    if a.start == a.end:
        return b.start < a.start < b.end
    if b.start == b.end:
        return a.start < b.start < a.end
    return a.start < b.end and b.start < a.end


def apply_text_edits(source: str, edits: Iterable[TextEdit]) -> str:
    parts: list[str] = []
    cursor = 0
    # Inserts before a replacement that starts at the same offset.
    for edit in sorted(edits, key=lambda e: (e.start, e.end != e.start, e.order)):
        parts.append(source[cursor : edit.start])
        parts.append(edit.content)
        cursor = max(cursor, edit.end)
    parts.append(source[cursor:])
    return "".join(parts)


def _parses(source: str) -> bool:
    try:
        cst.parse_module(source)
    except (cst.ParserSyntaxError, RecursionError):
        return False
    try:
        # The full compile (not only the grammar): the file compiled before the fix, so
        # it must after it too (a misplaced ``nonlocal`` or ``__future__`` would not).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, "<fixed>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _fix_key(source: str, edits: list[TextEdit]) -> tuple[tuple[str, str], ...]:
    """What a fix does, independent of where the text has shifted to."""
    return tuple((source[e.start : e.end], e.content) for e in edits)


def apply_fixes(
    source: str,
    path: str = "<string>",
    rules: Iterable[type[Rule]] | None = None,
    options: Mapping[str, Any] | None = None,
    unsafe: bool = False,
) -> FixResult:
    """Apply the findings' fixes until none is left to apply (at most ``MAX_ROUNDS``)."""
    rules = list(rules) if rules is not None else select_rules()
    current = source
    applied = 0
    rejected: set[tuple[tuple[str, str], ...]] = set()
    analysis = analyse(current, path, rules, options)
    for _ in range(MAX_ROUNDS):
        if analysis.module is None:
            break
        offsets = _Offsets(current)
        candidates: list[list[TextEdit]] = []
        positions: Mapping[cst.CSTNode, CodeRange] | None = None
        for diagnostic in analysis.diagnostics:
            fix = diagnostic.fix
            if fix is None or (fix.applicability == "unsafe" and not unsafe):
                continue
            if positions is None:
                # Every node: edits anchor anywhere, and inserts need their statement.
                wrapper = MetadataWrapper(analysis.module, unsafe_skip_copy=True)
                positions = wrapper.resolve(PositionProvider)
            edits = to_text_edits(fix, analysis.module, positions, offsets)
            if not edits or _fix_key(current, edits) in rejected:
                continue
            if any(_conflicts(a, b) for i, a in enumerate(edits) for b in edits[i + 1 :]):
                continue
            if all(current[e.start : e.end] == e.content for e in edits):
                continue  # a no-op fix would loop forever
            candidates.append(edits)
        taken: list[list[TextEdit]] = []
        for edits in candidates:
            if not any(_conflicts(a, b) for other in taken for a in edits for b in other):
                taken.append(edits)
        if not taken:
            break
        fixed = apply_text_edits(current, [e for edits in taken for e in edits])
        if not _parses(fixed):
            # One of the fixes breaks the file: keep those that parse on their own.
            good: list[list[TextEdit]] = []
            for edits in taken:
                if _parses(apply_text_edits(current, [*edits, *(e for g in good for e in g)])):
                    good.append(edits)
                else:
                    rejected.add(_fix_key(current, edits))
            if not good:
                continue  # re-run the round without the rejected fixes
            taken = good
            fixed = apply_text_edits(current, [e for edits in taken for e in edits])
        current = fixed
        applied += len(taken)
        analysis = analyse(current, path, rules, options)
    return FixResult(current, applied, list(analysis.diagnostics))


_LINE = re.compile(r"[^\n]*\n|[^\n]+")


def unified_diff(before: str, after: str, path: str) -> str:
    """A diff that ``patch -p0`` applies: lines are split on ``\\n`` only, as patch
    splits them (a ``\\r`` stays inside its line, so CRLF and lone-CR files round-trip),
    and a last line without a newline is marked as diff(1) marks it."""
    out: list[str] = []
    for line in difflib.unified_diff(
        _LINE.findall(before), _LINE.findall(after), fromfile=path, tofile=path
    ):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


_BYTES_LINE = re.compile(rb"[^\n]*\n|[^\n]+")


def unified_diff_bytes(before: bytes, after: bytes, path: str) -> bytes:
    """``unified_diff`` of a file's bytes, so that the diff holds the lines exactly as they
    are on disk (a ``latin-1`` file's diff is latin-1, as ``patch`` compares bytes); the
    path is written as the file system spells it."""
    name = os.fsencode(path)
    out: list[bytes] = []
    for line in difflib.diff_bytes(
        difflib.unified_diff,
        _BYTES_LINE.findall(before),
        _BYTES_LINE.findall(after),
        fromfile=name,
        tofile=name,
    ):
        out.append(line if line.endswith(b"\n") else line + b"\n\\ No newline at end of file\n")
    return b"".join(out)


class WriteError(Exception):
    """A fixed file that could not be written back; the message says why."""


def write_into(path: Path, data: bytes, original: bytes) -> None:
    """Write ``data`` into the existing file at ``path`` (which held ``original``).

    The content first goes to a temporary file, so that a full disk or a read-only
    folder fails before the file is touched; then the file itself is rewritten in place,
    which keeps its inode (hard links), mode, owner and any symlink pointing at it. A
    file without write permission is left alone even where the caller could override
    that (root), and so is one that changed since it was read.
    """
    try:
        info = path.stat()
    except OSError as exc:
        raise WriteError(f"cannot write: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise WriteError("cannot write: not a regular file")
    if not info.st_mode & 0o222 or not os.access(path, os.W_OK):
        raise WriteError("read-only file, not modified")
    tmp = _stage(path, data)
    try:
        with open(path, "r+b") as handle:
            if handle.read() != original:
                raise WriteError("changed on disk while being fixed, not modified")
            handle.seek(0)
            try:
                handle.write(data)
                handle.truncate()
                handle.flush()
                os.fsync(handle.fileno())
            except OSError as exc:
                with contextlib.suppress(OSError):  # put the old content back
                    handle.seek(0)
                    handle.write(original)
                    handle.truncate()
                raise WriteError(f"cannot write: {exc.strerror or exc}") from None
    except OSError as exc:
        raise WriteError(f"cannot write: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _stage(path: Path, data: bytes) -> str:
    """The new content in a temporary file (beside ``path`` when its folder is writable)."""
    last: OSError | None = None
    for folder in (path.resolve().parent, None):
        try:
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
        except OSError as exc:
            last = exc
            continue
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise WriteError(f"cannot write: {exc.strerror or exc}") from None
        return tmp
    assert last is not None
    raise WriteError(f"cannot write: {last.strerror or last}")


__all__ = [
    "Edit",
    "FixResult",
    "TextEdit",
    "WriteError",
    "apply_fixes",
    "apply_text_edits",
    "unified_diff",
    "unified_diff_bytes",
    "write_into",
]
