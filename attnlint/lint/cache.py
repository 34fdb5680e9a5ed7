"""Results cache: file content hash -> findings, one JSON file per checked file.

The key of a configuration is the attnlint version, the enabled codes and the rule
options, so changing any of them starts a fresh folder. Within it, findings are stored
by the hash of the path the rules saw and the file's bytes, one small file each: a warm
run reads each checked file, hashes it and reads its entry, never touching libcst, and
never reads the entries of files it does not check. Writes are atomic (temp file +
``os.replace``); an entry that is unreadable, malformed or not a regular file is a miss,
and is rewritten.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from attnlint import __version__
from attnlint.lint.diagnostic import Diagnostic, Fix

CACHE_DIR = ".attnlint_cache"
MAX_ENTRIES = 100_000  # about: each of the 256 shards keeps its newest MAX_ENTRIES / 256
# Bumped when what a file's entry or summary holds changes (project index: pending findings).
INDEX_FORMAT = 5

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
    default), one small JSON file per entry: a run reads only the entries of the files it
    checks, so a pre-commit run on one file reads one entry whatever the size of the
    project, and writes only what changed."""

    def __init__(self, folder: Path, key: str) -> None:
        stem = f"{__version__}-{key}"
        self.entries_dir = folder / f"{stem}.entries"
        self.entries: dict[str, Entry | None] = {}  # read this run (None: a miss)
        self._new_entries: dict[str, Entry] = {}
        # Function summaries of the project index, one small file each (named by the
        # content hash): a run reads only the summaries its pending findings reach.
        self.index_dir = folder / f"{stem}.index"
        self._summaries: dict[str, Any] = {}
        self._new_summaries: dict[str, Any] = {}

    def entry_file(self, key: str) -> Path:
        # Sharded by the first two hex digits: no folder grows past MAX_ENTRIES / 256.
        return self.entries_dir / key[:2] / f"{key}.json"

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
        """The entry, or None: missing, unreadable, or malformed (then rewritten by the
        ``put`` of the fresh result)."""
        if key not in self.entries:
            entry = load_json(self.entry_file(key))
            self.entries[key] = entry if valid_entry(entry) else None
        return self.entries[key]

    def put(self, key: str, entry: Entry) -> None:
        if self.get(key) != entry:
            self.entries[key] = entry
            self._new_entries[key] = entry

    def save(self) -> None:
        """Best effort: a cache that cannot be written only costs speed next time."""
        if not (self._new_summaries or self._new_entries) or not self._prepare():
            return
        for key, summary in self._new_summaries.items():
            file = self.index_dir / f"{key}.json"
            if not file.exists():
                _write(file, summary)
        self._new_summaries = {}
        shards = set()
        for key, entry in self._new_entries.items():
            file = self.entry_file(key)
            _write(file, entry)
            shards.add(file.parent)
        self._new_entries = {}
        for shard in shards:
            _prune(shard, max(1, MAX_ENTRIES // 256))

    def _prepare(self) -> bool:
        """The cache folder, with a ``.gitignore`` that keeps it out of version control."""
        root = self.entries_dir.parent
        try:
            root.mkdir(parents=True, exist_ok=True)
            gitignore = root / ".gitignore"
            if not gitignore.exists():
                gitignore.write_text("# created by attnlint\n*\n", encoding="utf-8")
        except OSError:
            return False
        return True


def _write(file: Path, data: Any) -> None:
    folder = file.parent
    # A name of our own rather than tempfile's (whose import a one-file run would pay).
    tmp = folder / f".tmp-{os.getpid()}-{os.urandom(6).hex()}.json"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # dumps, not dump: the C encoder, where dump to a file is pure Python.
        text = json.dumps(data, separators=(",", ":")).encode("utf-8")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    except (OSError, ValueError):
        return
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text)
        os.replace(tmp, file)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _prune(folder: Path, keep: int) -> None:
    """Drop the oldest entries of a shard beyond ``keep`` (they are rewritten on a miss)."""
    try:
        with os.scandir(folder) as scan:
            files = [e for e in scan if e.name.endswith(".json") and e.is_file()]
        if len(files) <= keep:
            return
        files.sort(key=lambda e: e.stat().st_mtime_ns)
        for old in files[: len(files) - keep]:
            with contextlib.suppress(OSError):
                os.unlink(old.path)
    except OSError:
        return
