"""The run log: JSON Lines, one header record per (re)started run, one record per sampled step.

Torch-free. The guard writes it (``RunLogWriter``); ``attnlint report`` / ``attnlint plot``
read it (``read_run_log``).

Crash safety: every record is serialised first and handed to the kernel in a single
``os.write`` on a descriptor opened with ``O_APPEND``, so a process killed at any moment
leaves either the whole line or (at worst, on a full disk) a torn last line, which the
reader reports and skips. ``fsync=True`` additionally survives a power cut, at a cost.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from attnlint import __version__
from attnlint.records import SCHEMA_VERSION, StepReport

_RESERVED = ("kind", "schema_version", "attnlint_version")


class RunLogError(ValueError):
    """A run log that cannot be read. The message is one line, fit for a CLI error."""


class RunLogWriter:
    """Append-only writer; safe to share between threads of one process.

    An existing file is appended to by default (``append=True``): a run resumed from a
    checkpoint continues its log, and the reader keeps the latest attempt of every repeated
    step. ``append=False`` replaces the file instead (a fresh run under the same name)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        header: Mapping[str, Any],
        *,
        fsync: bool = False,
        append: bool = True,
    ) -> None:
        self.path = Path(path)
        self._fsync = fsync
        self._lock = threading.Lock()
        if self.path.parent != Path():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (0 if append else os.O_TRUNC)
        self._fd: int | None = os.open(self.path, flags, 0o644)
        # A previous run killed mid-write may have left a torn last line; start ours on a
        # fresh line so the resumed run's header is not glued to it.
        if _ends_without_newline(self.path):
            self._append(b"\n")
        record: dict[str, Any] = {
            "kind": "header",
            "schema_version": SCHEMA_VERSION,
            "attnlint_version": __version__,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        record.update({k: v for k, v in header.items() if k not in _RESERVED})
        self._append(_dumps(record))

    def write(self, report: StepReport) -> None:
        # model_dump_json writes NaN/inf as null (records.py); json.dumps would not. A loss
        # that was NaN/inf is also kept as text, so the report can say so instead of showing
        # the last finite loss.
        body = report.model_dump_json()
        head = '{"kind":"step",'
        if isinstance(report.loss, float) and not math.isfinite(report.loss):
            head += f'"loss_nonfinite":"{report.loss}",'
        line = head + body[1:] if body != "{}" else head[:-1] + "}"
        self._append(line.encode() + b"\n")

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    @property
    def closed(self) -> bool:
        return self._fd is None

    def __enter__(self) -> RunLogWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _append(self, data: bytes) -> None:
        with self._lock:
            if self._fd is None:
                raise ValueError(f"run log {self.path} is closed")
            # One write call per record: the line reaches the kernel whole or not at all
            # (short writes only happen on a full disk; loop so we never drop a tail).
            view = memoryview(data)
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
            if self._fsync:
                os.fsync(self._fd)


def _dumps(record: Mapping[str, Any]) -> bytes:
    return (json.dumps(record, default=str, allow_nan=False) + "\n").encode()


def _ends_without_newline(path: Path) -> bool:
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        if fh.tell() == 0:
            return False
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) != b"\n"


@dataclass
class RunLog:
    """A parsed run log. ``headers`` has one entry per (re)started run, oldest first."""

    path: Path
    headers: list[dict[str, Any]]
    steps: list[StepReport]
    warnings: list[str] = field(default_factory=list)

    @property
    def header(self) -> dict[str, Any]:
        """The latest header (a resumed run's own), merged over the earlier ones."""
        merged: dict[str, Any] = {}
        for h in self.headers:
            merged.update(h)
        return merged

    @property
    def name(self) -> str:
        run = self.header.get("run") or self.header.get("name")
        return str(run) if run else self.path.stem

    @property
    def sites(self) -> list[str]:
        """Attention sites in order of first appearance."""
        seen: dict[str, None] = {}
        for s in self.steps:
            for site in s.layers:
                seen.setdefault(site, None)
        return list(seen)

    @property
    def violations(self) -> list[Any]:
        return [v for s in self.steps for v in s.violations]


def read_run_log(path: str | os.PathLike[str]) -> RunLog:
    """Read a run log; raise ``RunLogError`` (one line) when it cannot be used."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise RunLogError(f"{p}: no such run log") from None
    except IsADirectoryError:
        raise RunLogError(f"{p}: is a directory, not a run log") from None
    except OSError as exc:
        raise RunLogError(f"{p}: cannot read run log ({exc.strerror or exc})") from None
    lines = raw.split(b"\n")
    if not raw.strip():
        raise RunLogError(f"{p}: empty file, not an attnlint run log")

    records: list[tuple[int, dict[str, Any]]] = []
    warnings: list[str] = []
    torn: list[int] = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            torn.append(lineno)
            records.append((lineno, {}))
            continue
        if not isinstance(rec, dict):
            raise RunLogError(f"{p}:{lineno}: not an attnlint run log (record is not an object)")
        records.append((lineno, rec))

    # A torn line is legitimate only where a run was killed: at the very end, or right
    # before the header of the resumed run. Anywhere else the file is corrupt.
    for i, (lineno, rec) in enumerate(records):
        if rec:
            continue
        last = i == len(records) - 1
        before_header = not last and records[i + 1][1].get("kind") == "header"
        if not (last or before_header):
            raise RunLogError(f"{p}:{lineno}: corrupt record (not valid JSON)")
        warnings.append(f"{p}:{lineno}: truncated record ignored (the run was interrupted)")

    headers: list[dict[str, Any]] = []
    steps: list[StepReport] = []
    resumed = False
    for lineno, rec in records:
        if not rec:
            continue
        kind = rec.get("kind")
        if not headers and kind != "header":
            raise RunLogError(f"{p}:{lineno}: not an attnlint run log (no header record)")
        version = rec.get("schema_version")
        if isinstance(version, int) and version > SCHEMA_VERSION:
            raise RunLogError(
                f"{p}:{lineno}: written with run-log schema {version}, this attnlint "
                f"({__version__}) reads up to {SCHEMA_VERSION}: upgrade attnlint"
            )
        if kind == "header":
            headers.append(rec)
            resumed = True
        elif kind == "step":
            body = {k: v for k, v in rec.items() if k != "kind"}
            try:
                report = StepReport.model_validate(body)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(x) for x in first["loc"])
                raise RunLogError(
                    f"{p}:{lineno}: invalid step record ({where}: {first['msg']})"
                ) from None
            if resumed and len(headers) > 1:
                # A run resumed from a checkpoint repeats the steps after the checkpoint:
                # the resumed run's records replace the first attempt's.
                steps = [s for s in steps if s.step < report.step]
            resumed = False
            steps.append(report)
        else:
            warnings.append(f"{p}:{lineno}: unknown record kind {kind!r} ignored")
    if not headers:
        # every run log starts with a header, written when the guard opens it
        raise RunLogError(f"{p}: not an attnlint run log (no header record)")
    return RunLog(path=p, headers=headers, steps=steps, warnings=warnings)
