"""Which files the main process may parse itself; the others go to a supervised worker.

libcst's parser is native code: on pathologically nested input that CPython still
compiles it could overflow its stack, and a segfault in the main process would take the
whole run down. A worker costs a fork and a pipe (about 40 ms on a busy 2-core machine),
which is most of a pre-commit run on one file, so a run with few files parses in the
main process every file this rule calls plain, and sends the rest to a worker:

* a Python file (a notebook always goes to a worker: its cells are read out of JSON);
* at most ``MAX_BYTES`` bytes, no physical line over ``MAX_LINE`` characters;
* no statement with a comma-free stretch over ``MAX_STRETCH`` characters (string
  literals count as one character, f-strings at their full length: their fields are
  parsed too). Every construct that nests without a bracket (``a.b.c``, ``f()()``,
  ``1 + 2 + 3``, ``- - x``, ``lambda: lambda: 1``, ``x if a else y if b else z``, adjacent
  string literals) grows the stretch by at least one character per level, and brackets
  nest at most 200 deep in CPython, so the nesting libcst sees stays far below the
  depth at which it gives up (about 3,000 levels, measured: a clean ``RecursionError``);
* at most ``MAX_ELIF`` ``elif`` clauses (a chain of them is a nested ``If`` in libcst).

A file the rule calls plain gives the same findings either way: the worker runs the same
``process``. The project index's loader parses a module that only an import reaches
under the same rule (``summarise``). CPython's ``compile()`` still runs before libcst
wherever the file is parsed (``engine.analyse``), so input CPython rejects never
reaches libcst.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from attnlint.lint.runner import Job

MAX_BYTES = 2_000_000
MAX_LINE = 2_000
MAX_STRETCH = 1_000
MAX_ELIF = 300
# Fewer files than this (the count below which the pool would have a single worker
# anyway) are linted in the main process when they are plain.
IN_PROCESS_FILES = 16

# String literals (f-strings apart, to keep their length) and comments; the lookahead
# lets the scan skip the other characters quickly.
_TOKEN = re.compile(
    rb"""(?=[rRbBuUfF\"'\#])(?:
    (?P<f>[rRbBuU]?[fF][rR]?(?P<fq>\"\"\"|'''|"|')(?:\\.|(?!(?P=fq))[^\\])*(?P=fq))
    |[rRbBuU]{0,2}(?:\"\"\"(?:\\.|[^\\])*?\"\"\"|'''(?:\\.|[^\\])*?'''
        |"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')
    |\#[^\n]*)""",
    re.VERBOSE | re.DOTALL,
)
_ELIF = re.compile(rb"^[ \t\f]*elif\b", re.MULTILINE)
# Openers become "(", closers ")", everything else is deleted.
_BRACKETS = bytes.maketrans(b"[{]}", b"(())")
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"()[]{}")


def _blanked(match: re.Match[bytes]) -> bytes:
    """A literal as the stretch counts it (newlines kept out: a string is one token)."""
    if match.group("f") is not None:
        return b"0" * len(match.group(0).replace(b"\n", b""))
    return b"" if match.group(0).startswith(b"#") else b"0"


def why_isolated(path: Path, data: bytes) -> str | None:
    """None when ``data`` may be parsed in the main process, else the reason it may not."""
    if path.suffix == ".ipynb":
        return "a notebook"
    if len(data) > MAX_BYTES:
        return "a large file"
    if max(map(len, data.split(b"\n")), default=0) > MAX_LINE:
        return "a long line"
    if len(_ELIF.findall(data)) > MAX_ELIF:
        return "a long elif chain"
    lines = _TOKEN.sub(_blanked, data).split(b"\n")
    depth = first = length = 0
    for i, line in enumerate(lines):
        length += len(line)
        brackets = line.translate(_BRACKETS, _NOT_BRACKETS)
        if brackets:
            depth += len(brackets) - 2 * brackets.count(b")")
            if depth < 0:
                return _lost_track(data)
        if depth > 0 or line.endswith((b"\\", b"\\\r")):
            continue
        if length > MAX_STRETCH and _stretch(lines[first : i + 1]) > MAX_STRETCH:
            return "a long expression"
        first, length = i + 1, 0
    return _lost_track(data) if depth != 0 else None


def _lost_track(data: bytes) -> str | None:
    """Brackets that do not balance: a syntax error (CPython rejects the file, so libcst
    never reads it: plain), or a literal the scan misread (take no chance)."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(data, "<scan>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return None
    except (RecursionError, MemoryError, OverflowError):
        pass
    return "unbalanced brackets"


def _stretch(lines: list[bytes]) -> int:
    """The longest comma-free stretch of one statement."""
    return max(map(len, re.split(rb"[,;]", b"".join(lines))))


def summarise(path: Path, data: bytes, job: Job) -> dict[str, Any] | None:
    """The project index's summary (as JSON) of the module ``data``, read from ``path``:
    parsed in this process when plain, else in a supervised worker, whose crash or error
    means no summary (the import is then not followed), never a failed run. None also
    for bytes Python cannot decode."""
    if why_isolated(path, data) is None:
        return _summary_json((path, data, job))
    from attnlint.lint.runner import _setup
    from attnlint.lint.workers import Supervisor

    supervisor: Supervisor[tuple[Path, bytes, Job], dict[str, Any] | None] = Supervisor(
        _summary_json, _setup, job, _no_summary, _no_summary, workers=1, chunk=1
    )
    return supervisor.run([(path, data, job)])[0]


def _summary_json(item: tuple[Path, bytes, Job]) -> dict[str, Any] | None:
    from attnlint.lint.encoding import decode
    from attnlint.lint.engine import analyse
    from attnlint.lint.runner import setup_for

    path, data, job = item
    try:
        source, _ = decode(data)
    except (UnicodeDecodeError, LookupError, SyntaxError):
        return None
    rules, options = setup_for(job)
    found = analyse(source, path.as_posix(), rules, options, resolve=False, index=True)
    return found.summary.to_json() if found.summary is not None else None


def _no_summary(item: object, why: object) -> None:
    return None
