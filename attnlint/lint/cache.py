"""Results cache: file content hash -> findings, one JSON file per configuration.

The key of a configuration is the attnlint version, the enabled codes and the rule
options, so changing any of them starts a fresh file. Within it, findings are stored by
the hash of the file's bytes, without the path: a warm run reads each file, hashes it and
looks it up, never touching libcst. Writes are atomic (temp file + ``os.replace``); an
unreadable or corrupt cache is treated as empty.
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
INDEX_FORMAT = 1

Entry = list[dict[str, Any]]


def content_key(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


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
        # Function summaries of the project index, in a file of their own: a run whose
        # files have no pending finding never reads it.
        self.index_file = self.file.with_suffix(".index.json")
        self._summaries: dict[str, Any] | None = None
        self._index_dirty = False
        try:
            data = json.loads(self.file.read_bytes())
        except (OSError, ValueError):
            return
        if isinstance(data, dict) and all(isinstance(v, list) for v in data.values()):
            self.entries = data

    def get_summary(self, key: str) -> Any | None:
        if self._summaries is None:
            try:
                data = json.loads(self.index_file.read_bytes())
            except (OSError, ValueError):
                data = {}
            self._summaries = data if isinstance(data, dict) else {}
        return self._summaries.get(key)

    def put_summary(self, key: str, summary: Any) -> None:
        if self.get_summary(key) != summary:
            assert self._summaries is not None
            self._summaries[key] = summary
            self._index_dirty = True

    def get(self, key: str) -> Entry | None:
        return self.entries.get(key)

    def put(self, key: str, entry: Entry) -> None:
        if self.entries.get(key) != entry:
            self.entries[key] = entry
            self.dirty = True

    def save(self) -> None:
        """Best effort: a cache that cannot be written only costs speed next time."""
        if self._index_dirty and self._summaries is not None:
            if len(self._summaries) > MAX_ENTRIES:
                self._summaries = dict(list(self._summaries.items())[-MAX_ENTRIES:])
            self._write(self.index_file, self._summaries)
            self._index_dirty = False
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
