"""Small multi-file training repositories for the project-index tests, and a way to check
them the way ``attnlint check`` does (the runner, in this process, with the cache on)."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

from attnlint.lint.runner import Job, PerFileIgnores, run


@dataclass(frozen=True)
class Found:
    path: str
    line: int
    column: int
    code: str
    message: str


def write_repo(root: Path, files: dict[str, str]) -> Path:
    """``files``: relative path -> source (dedented). Returns ``root``."""
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        text = textwrap.dedent(source)
        compile(text, name, "exec")  # a repo that does not parse would test nothing
        path.write_text(text, encoding="utf-8")
    return root


def check(
    root: Path,
    paths: list[str] | None = None,
    codes: tuple[str, ...] = ("AL103", "AL201"),
    cache: bool = True,
) -> list[Found]:
    """Check ``paths`` (default: every .py file under ``root``) from ``root``."""
    files = [root / p for p in paths] if paths is not None else sorted(root.rglob("*.py"))
    job = Job(list(codes), {}, PerFileIgnores(root))
    cache_dir = root / ".attnlint_cache" if cache else None
    result = run(files, job, cache_dir, jobs=1, cwd=root)
    assert not result.errors, result.errors
    return [
        Found(d.path, d.line, d.column, d.code, d.message)
        for d in sorted(result.diagnostics, key=lambda d: (d.path, d.line, d.column))
    ]


def where(found: list[Found]) -> list[tuple[str, int, str]]:
    return [(f.path, f.line, f.code) for f in found]


def line_of(root: Path, path: str, text: str) -> int:
    """The 1-based line of the first line of ``path`` containing ``text``."""
    for number, line in enumerate((root / path).read_text().splitlines(), start=1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {path}")
