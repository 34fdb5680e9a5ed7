"""Which files to check: ``.py`` and ``.ipynb`` files under the given paths, less excludes.

Directories are pruned while walking (a virtualenv is never descended into), so the cost
is proportional to the project, not to what sits beside it. Files named explicitly are
always checked: pre-commit passes file names and expects each of them to be linted.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from attnlint.lint.safeio import describe, kind_of, read_regular

if TYPE_CHECKING:
    import pathspec

DEFAULT_EXCLUDE = (
    ".git",
    ".hg",
    ".svn",
    ".bzr",
    ".venv",
    "venv",
    ".tox",
    ".nox",
    ".eggs",
    "*.egg-info",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".attnlint_cache",
    "__pycache__",
    "__pypackages__",
    ".ipynb_checkpoints",
    ".direnv",
    "_build",
    "build",
    "dist",
    "node_modules",
    "site-packages",
)


class DiscoveryError(Exception):
    """A path given on the command line that does not exist, or a bad exclude pattern."""


def _spec(patterns: Iterable[str]) -> pathspec.GitIgnoreSpec:
    # Imported when a pattern is first needed: a run on named files (pre-commit) with the
    # default excludes never matches one.
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(patterns)


def bad_pattern(pattern: str) -> str | None:
    """Why ``pattern`` is not a usable gitignore-style glob (``[z-a]``), or None."""
    import pathspec

    try:
        pathspec.GitIgnoreSpec.from_lines([pattern])
    except (re.error, ValueError, TypeError) as exc:
        return str(exc) or type(exc).__name__
    return None


def _usable_lines(lines: list[str]) -> tuple[list[str], list[str]]:
    """Lines pathspec can compile, and those it cannot. git accepts ``[z-a]`` and it
    matches nothing; pathspec raises on it, so such a line is dropped (same outcome)."""
    try:
        _spec(lines)
    except (re.error, ValueError, TypeError):
        bad = [line for line in lines if bad_pattern(line) is not None]
        return [line for line in lines if line not in bad], bad
    return lines, []


@dataclass(slots=True)
class _Ignore:
    """One ``.gitignore``: its patterns apply to paths below its folder."""

    base: Path
    lines: list[str]
    spec: pathspec.GitIgnoreSpec = field(init=False)

    def __post_init__(self) -> None:
        self.spec = _spec(self.lines)

    def without_patterns_hiding(self, folders: list[Path]) -> _Ignore:
        """The same file less the patterns that ignore one of ``folders``."""
        keep = []
        for line in self.lines:
            one = _Ignore(self.base, [line])
            if not any(one.ignores(folder, True) for folder in folders if folder != self.base):
                keep.append(line)
        return self if len(keep) == len(self.lines) else _Ignore(self.base, keep)

    def ignores(self, path: Path, is_dir: bool) -> bool:
        try:
            rel = path.relative_to(self.base).as_posix()
        except ValueError:
            return False
        return self.spec.match_file(rel + "/" if is_dir else rel)


def _read_gitignore(folder: Path, warnings: list[str] | None = None) -> _Ignore | None:
    return _read_ignore_file(folder / ".gitignore", folder, warnings)


def _read_ignore_file(file: Path, base: Path, warnings: list[str] | None) -> _Ignore | None:
    try:
        data = read_regular(file)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if warnings is not None and os.path.lexists(file):
            warnings.append(f"{file}: ignored: {describe(exc)}")
        return None
    lines, bad = _usable_lines(data.decode("utf-8", errors="replace").splitlines())
    if bad and warnings is not None:
        warnings.append(f"{file}: pattern {bad[0]!r} is not a valid glob; it matches nothing")
    return _Ignore(base, lines)


def _git_root(folder: Path) -> Path | None:
    for parent in (folder, *folder.parents):
        if os.path.lexists(parent / ".git"):
            return parent
    return None


def _ancestor_ignores(folder: Path, warnings: list[str] | None = None) -> list[_Ignore]:
    """``.gitignore`` files from the repository root down to ``folder`` (and info/exclude)."""
    root = _git_root(folder)
    if root is None:
        return []
    out: list[_Ignore] = []
    exclude = _read_ignore_file(root / ".git" / "info" / "exclude", root, warnings)
    if exclude is not None:
        out.append(exclude)
    chain = [folder, *folder.parents]
    for parent in reversed(chain[: chain.index(root) + 1]):
        found = _read_gitignore(parent, warnings)
        if found is not None:
            out.append(found)
    # A folder named on the command line is checked even when it sits inside an ignored
    # one (an installed package under a pyenv checkout): such patterns are not applied.
    inside = chain[: chain.index(root)]
    return [ig.without_patterns_hiding(inside) for ig in out]


@dataclass(slots=True)
class Discovery:
    """Settings of one file search. ``root`` anchors the exclude patterns."""

    root: Path
    exclude: Sequence[str] | None = None  # None: DEFAULT_EXCLUDE
    extend_exclude: Sequence[str] = ()
    respect_gitignore: bool = True
    # Things skipped on the way (a FIFO named x.py, a symlink loop, an unreadable folder),
    # one line each: the CLI prints them on stderr and goes on.
    warnings: list[str] = field(default_factory=list)
    _specs: tuple[pathspec.GitIgnoreSpec, pathspec.GitIgnoreSpec] | None = field(
        init=False, default=None
    )

    def __post_init__(self) -> None:
        if self.exclude is None and not self.extend_exclude:
            return  # the defaults are valid globs; compiled when a folder is walked
        for pattern in self._patterns():
            why = bad_pattern(pattern)
            if why is not None:
                raise DiscoveryError(f"exclude pattern {pattern!r} is not a valid glob: {why}")

    def _patterns(self) -> list[str]:
        base = DEFAULT_EXCLUDE if self.exclude is None else tuple(self.exclude)
        return [*base, *self.extend_exclude]

    def _compiled(self) -> tuple[pathspec.GitIgnoreSpec, pathspec.GitIgnoreSpec]:
        """Name patterns and anchored ones. As in .gitignore: a pattern with no slash but a
        trailing one matches a name at any depth; one with a slash is anchored at the
        root. Names are tested only while walking down from a given folder, so a
        `site-packages` *above* the folder being checked never hides it."""
        if self._specs is None:
            patterns = self._patterns()
            anchored = [p for p in patterns if "/" in p.rstrip("/")]
            names = _spec([p for p in patterns if p not in anchored])
            self._specs = (names, _spec(anchored))
        return self._specs

    def excluded(self, path: Path, is_dir: bool) -> bool:
        """Name patterns against the name, anchored ones against the path from the root."""
        names, paths = self._compiled()
        suffix = "/" if is_dir else ""
        if names.match_file(path.name + suffix):
            return True
        try:
            rel = path.relative_to(self.root).as_posix()
        except ValueError:
            return False
        return paths.match_file(rel + suffix)

    def files(self, paths: Sequence[Path]) -> list[Path]:
        """Every file to check, each once, in a stable order."""
        seen: set[Path] = set()
        out: list[Path] = []
        for given in paths:
            try:
                mode = given.stat().st_mode
            except OSError as exc:
                if exc.errno == errno.ENOENT and not os.path.lexists(given):
                    raise DiscoveryError(f"{given}: no such file or directory") from None
                if exc.errno == errno.ENOENT:  # a dangling symlink: its read is the error
                    found = [Path(os.path.abspath(given))]
                    out.extend(p for p in found if p not in seen)
                    seen.update(found)
                    continue
                what = "symlink loop" if exc.errno == errno.ELOOP else describe(exc)
                self.warnings.append(f"{given}: skipped: {what}")
                continue
            kind = kind_of(mode)
            if kind == "a folder":
                found: Iterable[Path] = self._walk(Path(os.path.realpath(given)))
            elif kind is None:
                found = [Path(os.path.realpath(given))]  # named explicitly: always checked
            else:
                self.warnings.append(f"{given}: skipped: {kind}, not a regular file")
                continue
            for path in found:
                if path not in seen:
                    seen.add(path)
                    out.append(path)
        return out

    def _walk(self, top: Path) -> Iterator[Path]:
        ignores = _ancestor_ignores(top, self.warnings) if self.respect_gitignore else []
        depth_ignores: dict[Path, list[_Ignore]] = {top: ignores}

        def unreadable(exc: OSError) -> None:
            self.warnings.append(f"{exc.filename}: folder skipped: {describe(exc)}")

        for folder, dirs, files in os.walk(top, onerror=unreadable):
            here = Path(folder)
            active = depth_ignores.pop(here, [])
            if self.respect_gitignore and here != top:
                own = _read_gitignore(here, self.warnings)
                if own is not None:
                    active = [*active, own]
            keep: list[str] = []
            for name in sorted(dirs):
                sub = here / name
                if (
                    self.excluded(sub, True)
                    or _is_venv(sub)
                    or any(ig.ignores(sub, True) for ig in active)
                ):
                    continue
                keep.append(name)
                depth_ignores[sub] = active
            dirs[:] = keep
            for name in sorted(files):
                if not name.endswith((".py", ".ipynb")):  # notebooks: attnlint.lint.notebook
                    continue
                path = here / name
                if self.excluded(path, False) or any(ig.ignores(path, False) for ig in active):
                    continue
                if self._regular(path):
                    yield path

    def _regular(self, path: Path) -> bool:
        """A regular file (symlinks followed); anything else is skipped with a warning
        and never opened: reading a FIFO would block the run for ever."""
        try:
            kind = kind_of(path.stat().st_mode)
        except OSError as exc:
            what = "symlink loop" if exc.errno == errno.ELOOP else describe(exc)
            self.warnings.append(f"{path}: skipped: {what}")
            return False
        if kind is not None:
            self.warnings.append(f"{path}: skipped: {kind}, not a regular file")
        return kind is None


def _is_venv(folder: Path) -> bool:
    """A virtualenv under any name (an unreadable folder is not one: walking it warns)."""
    try:
        return os.path.lexists(folder / "pyvenv.cfg")
    except OSError:
        return False
