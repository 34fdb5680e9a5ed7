"""Validated ``[tool.attnlint]`` settings kept beside the results cache.

pydantic validates a project's settings table the first time it is seen; a pre-commit
run on one file would otherwise import pydantic and build the model on every commit
(about 80 ms, a quarter of the run). The validated values are kept as JSON in the
results cache's folder (``<project root>/.attnlint_cache/settings/``), keyed by the
table's content, the attnlint version and the settings' fields, so a changed table, a
new version or a new setting is a miss. An unreadable or malformed entry is a miss too;
a failed write is ignored (the next run validates again). Only tables of top-level
settings are kept: a rule's option table or ``[tool.attnlint.guard]`` is validated on
every run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from attnlint import __version__
from attnlint.config import Settings, _fields, _one_line


def _entry(folder: Path, table: dict[str, Any], fields: tuple[str, ...]) -> Path:
    text = json.dumps([__version__, fields, table], sort_keys=True, default=repr)
    key = hashlib.sha256(text.encode()).hexdigest()[:32]
    return folder / "settings" / f"{key}.json"


def _sum(values: Any) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()


def load(folder: Path, table: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any] | None:
    """The validated settings of ``table``, or None (never validated, or unreadable)."""
    from attnlint.lint.safeio import read_regular

    try:
        entry = json.loads(read_regular(_entry(folder, table, fields)))
        values, check = entry["values"], entry["sum"]
    except (OSError, ValueError, RecursionError, TypeError, KeyError):
        return None
    if not isinstance(values, dict) or set(values) != set(fields) or check != _sum(values):
        return None  # not what this version wrote: validate again
    return values


def store(folder: Path, table: dict[str, Any], fields: tuple[str, ...], values: Any) -> None:
    path = _entry(folder, table, fields)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        ignore = folder / ".gitignore"  # as the results cache does: out of version control
        if not ignore.exists():
            ignore.write_text("# created by attnlint\n*\n", encoding="utf-8")
        tmp.write_text(json.dumps({"values": values, "sum": _sum(values)}))
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):  # the folder may be a file: nothing to remove
            tmp.unlink()


def validated_settings(
    table: dict[str, Any],
    found: Path,
    section: str,
    by_name: dict[str, Any],
    root: Path,
    cache: Path | bool,
    has_tables: bool,
) -> Settings:
    """The top-level settings of ``table`` (read from ``found``), validated by pydantic,
    or as validated before. ``has_tables``: the file also holds a rule's or the guard's
    table (validated on every run, so nothing is kept)."""
    from attnlint.lint.cache import CACHE_DIR

    fields = tuple(Settings.__dataclass_fields__)
    folder = None
    if cache is not False and not has_tables:
        folder = root / CACHE_DIR if cache is True else Path(cache)
        known = load(folder, table, fields)
        if known is not None:
            return Settings(**known)
    from pydantic import ValidationError

    from attnlint.config_model import LintSettings

    try:
        values = LintSettings.model_validate(table).model_dump()
    except ValidationError as exc:
        valid = [*_fields(LintSettings), *by_name, "guard"]
        raise _one_line(exc, found, section, valid=valid) from None
    if folder is not None:
        store(folder, table, fields, values)
    return Settings(**values)
