"""Results cache: file content hash -> findings, one JSON file per configuration.

The key of a configuration is the attnlint version, the enabled codes and the rule
options, so changing any of them starts a fresh file. Within it, findings are stored by
the hash of the path the rules saw and the file's bytes: a warm run reads each file,
hashes it and looks it up, never touching libcst. Writes are atomic (temp file +
``os.replace``); an unreadable, malformed or non-regular cache file is treated as empty
and rewritten, and a malformed entry is a miss.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from attnlint import __version__
from attnlint.lint.diagnostic import Diagnostic, Fix

CACHE_DIR = ".attnlint_cache"
MAX_ENTRIES = 100_000
# Bumped when what a file's entry or summary holds changes (project index: pending findings).
INDEX_FORMAT = 2

Entry = list[dict[str, Any]]


def content_key(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def entry_key(path: str, content: str) -> str:
    """The key of one file's findings: its ``content_key`` *and* the path the rules saw.
    Rules read the path (findings in ``tests/`` are dropped), so the same text in
    ``train.py`` and in ``tests/test_train.py`` must not share an answer."""
    text = f"{path}\0{content}".encode("utf-8", "surrogateescape")
    return hashlib.blake2b(text, digest_size=16).hexdigest()


def load_json(file: Path) -> Any:
    """The JSON in ``file``, or None when it is missing, unreadable, not a regular file
    (a FIFO would block), malformed or nested too deeply to decode."""
    from attnlint.lint.safeio import read_regular

    try:
        return json.loads(read_regular(file))
    except (OSError, ValueError, RecursionError, MemoryError):
        return None


_INT_FIELDS = ("line", "column", "end_line", "end_column")


def valid_entry(entry: object) -> bool:
    """Whether a cached entry has the shape ``from_entry`` reads; anything else (a hand
    edit, a torn or foreign file) is a cache miss, and the file is linted again."""
    if not isinstance(entry, list):
        return False
    for item in entry:
        if not isinstance(item, dict):
            return False
        when = item.get("when")
        if (
            "when" in item
            and not (  # a pending finding, read by the project index
                isinstance(when, list)
                and len(when) == 7
                and all(isinstance(w, str) for w in when[:4])
                and all(isinstance(w, list) for w in when[4:6])
                and isinstance(when[6], bool)
            )
        ):
            return False
        if not (isinstance(item.get("code"), str) and isinstance(item.get("message"), str)):
            return False
        if not all(type(item.get(k)) is int and item[k] >= 0 for k in _INT_FIELDS):
            return False
        fix, cell = item.get("fix"), item.get("cell")
        if fix is not None and not (
            isinstance(fix, list)
            and len(fix) == 2
            and isinstance(fix[0], str)
            and fix[1] in ("safe", "unsafe")
        ):
            return False
        if cell is not None and type(cell) is not int:
            return False
    return True


def config_key(codes: Iterable[str], options: Mapping[str, Any], check_syntax: bool) -> str:
    payload = json.dumps(
        {
            "version": __version__,
            "codes": sorted(codes),
            "options": {
                code: opts.model_dump(mode="json") for code, opts in sorted(options.items())
            },
            "syntax": check_syntax,
            "index": INDEX_FORMAT,
        },
        sort_keys=True,
    )
    return hashlib.blake2b(payload.encode(), digest_size=12).hexdigest()


def to_entry(diagnostics: Iterable[Diagnostic]) -> Entry:
    return [
        {
            "code": d.code,
            "message": d.message,
            "line": d.line,
            "column": d.column,
            "end_line": d.end_line,
            "end_column": d.end_column,
            "fix": [d.fix.description, d.fix.applicability] if d.fix else None,
            **({"cell": d.cell} if d.cell is not None else {}),  # a notebook's cell
        }
        for d in diagnostics
    ]


def from_entry(entry: Entry, path: str) -> list[Diagnostic]:
    """Findings for ``path``. A cached fix keeps its description and applicability but no
    edits: it says the finding is fixable; ``--fix`` re-lints such files to get the edits.
    Pending findings (a ``when`` key: they wait on another function's summary) are left
    to the project index (``attnlint.lint.project``)."""
    out: list[Diagnostic] = []
    for item in entry:
        if "when" in item:
            continue
        fix = item["fix"]
        out.append(
            Diagnostic(
                code=item["code"],
                message=item["message"],
                path=path,
                line=item["line"],
                column=item["column"],
                end_line=item["end_line"],
                end_column=item["end_column"],
                fix=Fix(fix[0], (), fix[1]) if fix else None,
                cell=item.get("cell"),
            )
        )
    return out


class Cache:
    """One configuration's results in ``folder`` (``<project root>/.attnlint_cache`` by
    default)."""

    def __init__(self, folder: Path, key: str) -> None:
        self.file = folder / f"{__version__}-{key}.json"
        self.entries: dict[str, Entry] = {}
        self.dirty = False
        data = load_json(self.file)
        if isinstance(data, dict):
            self.entries = data  # entries are checked one by one in get()
        elif data is not None or self.file.exists():
            self.dirty = True  # rewrite a corrupt file even if nothing new is added
        # Function summaries of the project index, one small file each (named by the
        # content hash): a run reads only the summaries its pending findings reach, so a
        # pre-commit run on one file in a large project reads a handful.
        self.index_dir = self.file.with_suffix(".index")
        self._summaries: dict[str, Any] = {}
        self._new_summaries: dict[str, Any] = {}

    def get_summary(self, key: str) -> Any | None:
        if key not in self._summaries:
            self._summaries[key] = load_json(self.index_dir / f"{key}.json")
        return self._summaries[key]

    def put_summary(self, key: str, summary: Any) -> None:
        # The key is the content hash and a summary depends on the content only: one that
        # is on disk already is this one.
        if self._summaries.get(key) is None:
            self._summaries[key] = summary
            self._new_summaries[key] = summary

    def get(self, key: str) -> Entry | None:
        entry = self.entries.get(key)
        if entry is None or valid_entry(entry):
            return entry
        del self.entries[key]  # a miss; the fresh result is put back under the same key
        self.dirty = True
        return None

    def put(self, key: str, entry: Entry) -> None:
        if self.entries.get(key) != entry:
            self.entries[key] = entry
            self.dirty = True

    def save(self) -> None:
        """Best effort: a cache that cannot be written only costs speed next time."""
        for key, summary in self._new_summaries.items():
            file = self.index_dir / f"{key}.json"
            if not file.exists():
                self._write(file, summary)
        self._new_summaries = {}
        if not self.dirty:
            return
        if len(self.entries) > MAX_ENTRIES:  # dicts keep insertion order: drop the oldest
            self.entries = dict(list(self.entries.items())[-MAX_ENTRIES:])
        self._write(self.file, self.entries)
        self.dirty = False

    def _write(self, file: Path, data: dict[str, Any]) -> None:
        folder = file.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            gitignore = folder / ".gitignore"
            if not gitignore.exists():
                gitignore.write_text("# created by attnlint\n*\n", encoding="utf-8")
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
        except OSError:
            return
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, separators=(",", ":"))
            os.replace(tmp, file)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
