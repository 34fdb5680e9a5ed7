"""Which files to check: ``.py`` files under the given paths, minus excluded and ignored ones.

Directories are pruned while walking (a virtualenv is never descended into), so the cost
is proportional to the project, not to what sits beside it. Files named explicitly are
always checked: pre-commit passes file names and expects each of them to be linted.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

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
    """A path given on the command line that does not exist."""


def _spec(patterns: Iterable[str]) -> pathspec.GitIgnoreSpec:
    return pathspec.GitIgnoreSpec.from_lines(patterns)


@dataclass(slots=True)
class _Ignore:
    """One ``.gitignore``: its patterns apply to paths below its folder."""

    base: Path
    lines: list[str]
    spec: pathspec.GitIgnoreSpec = field(init=False)

    def __post_init__(self) -> None:
        self.spec = pathspec.GitIgnoreSpec.from_lines(self.lines)

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


def _read_gitignore(folder: Path) -> _Ignore | None:
    file = folder / ".gitignore"
    try:
        lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return _Ignore(folder, lines)


def _git_root(folder: Path) -> Path | None:
    for parent in (folder, *folder.parents):
        if (parent / ".git").exists():
            return parent
    return None


def _ancestor_ignores(folder: Path) -> list[_Ignore]:
    """``.gitignore`` files from the repository root down to ``folder`` (and info/exclude)."""
    root = _git_root(folder)
    if root is None:
        return []
    out: list[_Ignore] = []
    exclude = root / ".git" / "info" / "exclude"
    if exclude.is_file():
        try:
            lines = exclude.read_text(encoding="utf-8", errors="replace").splitlines()
            out.append(_Ignore(root, lines))
        except OSError:
            pass
    chain = [folder, *folder.parents]
    for parent in reversed(chain[: chain.index(root) + 1]):
        found = _read_gitignore(parent)
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
    _names: pathspec.GitIgnoreSpec = field(init=False)
    _paths: pathspec.GitIgnoreSpec = field(init=False)

    def __post_init__(self) -> None:
        base = DEFAULT_EXCLUDE if self.exclude is None else tuple(self.exclude)
        patterns = [*base, *self.extend_exclude]
        # As in .gitignore: a pattern with no slash but a trailing one matches a name at any
        # depth; one with a slash is anchored at the root. Names are tested only while
        # walking down from a given folder, so a `site-packages` *above* the folder being
        # checked never hides it.
        anchored = [p for p in patterns if "/" in p.rstrip("/")]
        self._names = _spec([p for p in patterns if p not in anchored])
        self._paths = _spec(anchored)

    def excluded(self, path: Path, is_dir: bool) -> bool:
        """Name patterns against the name, anchored ones against the path from the root."""
        suffix = "/" if is_dir else ""
        if self._names.match_file(path.name + suffix):
            return True
        try:
            rel = path.relative_to(self.root).as_posix()
        except ValueError:
            return False
        return self._paths.match_file(rel + suffix)

    def files(self, paths: Sequence[Path]) -> list[Path]:
        """Every file to check, each once, in a stable order."""
        seen: set[Path] = set()
        out: list[Path] = []
        for given in paths:
            if not given.exists():
                raise DiscoveryError(f"{given}: no such file or directory")
            if given.is_dir():
                found: Iterable[Path] = self._walk(given.resolve())
            else:
                found = [given.resolve()]  # named explicitly: always checked
            for path in found:
                if path not in seen:
                    seen.add(path)
                    out.append(path)
        return out

    def _walk(self, top: Path) -> Iterator[Path]:
        ignores = _ancestor_ignores(top) if self.respect_gitignore else []
        depth_ignores: dict[Path, list[_Ignore]] = {top: ignores}
        for folder, dirs, files in os.walk(top):
            here = Path(folder)
            active = depth_ignores.pop(here, [])
            if self.respect_gitignore and here != top:
                own = _read_gitignore(here)
                if own is not None:
                    active = [*active, own]
            keep: list[str] = []
            for name in sorted(dirs):
                sub = here / name
                if (
                    self.excluded(sub, True)
                    or (sub / "pyvenv.cfg").exists()  # a virtualenv under any name
                    or any(ig.ignores(sub, True) for ig in active)
                ):
                    continue
                keep.append(name)
                depth_ignores[sub] = active
            dirs[:] = keep
            for name in sorted(files):
                if not name.endswith(".py"):
                    continue
                path = here / name
                if self.excluded(path, False) or any(ig.ignores(path, False) for ig in active):
                    continue
                yield path
