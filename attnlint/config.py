"""``[tool.attnlint]``: finding it, validating it, and resolving the rules it enables.

Every problem is a ``ConfigError`` whose text is one line naming the file and the key;
the CLI prints it and exits 2. Torch-free. pydantic is imported only to validate a
configuration file, and rule classes only to validate a rule's option table (or to name
a rule in an error): without a file the defaults need neither, and rule codes come from
the catalogue's module names.
"""

from __future__ import annotations

import os
import re
import sys
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attnlint.lint.options import kebab

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

SYNTAX_CODE = "AL000"
# The engine's own codes (a file CPython rejects; a valid file attnlint could not read):
# on unless ignored, whatever ``select`` says.
ENGINE_CODES = (SYNTAX_CODE, "AL001")
# Searched in each folder from the checked path up, first match wins (as ruff does with
# .ruff.toml, ruff.toml, pyproject.toml).
CONFIG_NAMES = (".attnlint.toml", "attnlint.toml")


class ConfigError(Exception):
    """A bad configuration or option: one line, shown as ``attnlint: <text>``."""


@dataclass(slots=True)
class Settings:
    """The top-level keys of ``[tool.attnlint]``, validated (``config_model.LintSettings``)."""

    select: list[str] | None = None
    extend_select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    exclude: list[str] | None = None
    extend_exclude: list[str] = field(default_factory=list)


# The keys of ``Settings`` as a file may spell them: a table with only these needs no rule.
_SETTING_KEYS = {
    spelling for name in Settings.__dataclass_fields__ for spelling in (name, kebab(name))
}


def rule_codes() -> list[str]:
    """Every rule's code. Once the rules are imported, the catalogue's own keys; before,
    the catalogue's module names, so that no rule (nor libcst) is imported for them: it
    holds one module per rule, named for its code (``al101.py`` is AL101; a test holds
    the two to the same list)."""
    if "attnlint.lint.rules" in sys.modules:
        from attnlint.lint.rules import all_rules

        return list(all_rules())
    return list(_module_codes())


@cache
def _module_codes() -> tuple[str, ...]:
    import importlib.util
    import pkgutil

    spec = importlib.util.find_spec("attnlint.lint.rules")
    folders = spec.submodule_search_locations if spec is not None else None
    names = (info.name for info in pkgutil.iter_modules(folders or []))
    return tuple(sorted(name.upper() for name in names if re.fullmatch(r"al\d{3}", name)))


@dataclass(slots=True)
class Config:
    """A validated configuration file (or the defaults when there is none)."""

    path: Path | None
    root: Path
    settings: Settings = field(default_factory=Settings)
    rule_options: dict[str, BaseModel] = field(default_factory=dict)
    guard: Any = None  # attnlint.guard.config.GuardConfig when the table is present

    @property
    def label(self) -> str:
        return shown(self.path) if self.path is not None else "<defaults>"


def shown(path: Path) -> str:
    """A config file as a message names it: relative to the current folder when inside
    it, else absolute, so that two pyproject.toml files are never confused."""
    full = Path(os.path.abspath(path))
    try:
        return full.relative_to(Path.cwd()).as_posix()
    except (ValueError, OSError):
        return str(full)


def _section(path: Path) -> str:
    return "[tool.attnlint]" if path.name == "pyproject.toml" else ""


def _where(path: Path, table: str) -> str:
    return f"{shown(path)}: {table} " if table else f"{shown(path)}: "


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'select'?)`` for the nearest candidate, or an empty string."""
    import difflib  # only an error message needs it

    pool = {c.lower(): c for c in candidates}
    near = difflib.get_close_matches(word.lower(), list(pool), n=1, cutoff=0.6)
    return f" (did you mean {pool[near[0]]!r}?)" if near else ""


def _fields(model: type[BaseModel]) -> list[str]:  # a pydantic model's keys, as written
    return [kebab(name) for name in model.model_fields]


def _one_line(
    exc: ValidationError,
    path: Path,
    table: str,
    spelled: dict[str, str] | None = None,
    valid: Iterable[str] = (),
) -> ConfigError:
    """The first pydantic error as ``file: [table] key: what``, the key as the user wrote it;
    an unknown key comes with the nearest of the ``valid`` ones."""
    err = exc.errors()[0]
    parts = [str(part) for part in err["loc"]]
    if parts and spelled:
        parts[0] = spelled.get(parts[0], parts[0])
    key = ".".join(parts) or "(table)"
    if err["type"] == "extra_forbidden":
        hint = did_you_mean(parts[-1], valid) if parts else ""
        return ConfigError(f"{_where(path, table)}unknown key {key!r}{hint}")
    value = err.get("input")
    shown = f" (got {value!r})" if isinstance(value, str | int | float | bool) else ""
    return ConfigError(f"{_where(path, table)}{key!r}: {err['msg']}{shown}")


def _spellings(table: dict[str, Any]) -> dict[str, str]:
    return {key.replace("-", "_"): key for key in table}


def find_config(start: Path) -> Path | None:
    """The nearest ``.attnlint.toml`` or ``attnlint.toml``, or ``pyproject.toml`` with a
    ``[tool.attnlint]`` table, in ``start`` or one of its parents."""
    from attnlint.lint.safeio import read_regular

    # realpath, not resolve(): a symlink loop is the file walk's warning, not a crash here.
    start = Path(os.path.realpath(start))
    here = start if _is_dir(start) else start.parent
    for folder in (here, *here.parents):
        for name in CONFIG_NAMES:
            if _is_file(folder / name):
                return folder / name
        project = folder / "pyproject.toml"
        if _is_file(project):
            try:
                text = read_regular(project).decode("utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if _has_table(text):
                return project
    return None


def _has_table(text: str) -> bool:
    """``[tool.attnlint]`` in any TOML spelling (dotted keys, inline tables). A file that
    does not parse, or whose ``tool`` is not a table, is taken (as ruff takes it), so that
    its error is reported instead of the settings being silently ignored."""
    try:
        tool = tomllib.loads(text).get("tool", {})
    except (tomllib.TOMLDecodeError, RecursionError):
        return True
    return not isinstance(tool, dict) or "attnlint" in tool


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def _is_file(path: Path) -> bool:
    """A regular file (a FIFO named attnlint.toml would block the read)."""
    try:
        return path.is_file()
    except OSError:
        return False


def project_root() -> Path:
    """Without a configuration file, patterns and the cache are anchored where the
    command runs (as ruff does), never in some enclosing repository."""
    return Path.cwd().resolve()


def _read_table(path: Path) -> dict[str, Any]:
    """The settings table: ``[tool.attnlint]`` of a pyproject.toml; the top level of any
    other file (``attnlint.toml``), or its ``[tool.attnlint]`` when that is all it has."""
    from attnlint.lint.safeio import describe, read_regular

    try:
        raw = read_regular(path)
    except OSError as exc:
        raise ConfigError(f"{shown(path)}: cannot read: {describe(exc)}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:
        what = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"{shown(path)}: invalid TOML: {what}") from None
    if path.name != "pyproject.toml" and set(data) != {"tool"}:
        return data
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(f"{shown(path)}: 'tool' must be a table (got {tool!r})")
    table = tool.get("attnlint", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{shown(path)}: [tool.attnlint] must be a table")
    return table


def load_config(
    path: Path | None = None, start: Path | None = None, cache: Path | bool = True
) -> Config:
    """Read ``path`` (``--config``) or the file found from ``start``; defaults if none.
    ``cache``: where validated settings are kept (``config_cache``): True for the project
    root's cache folder, a folder (``--cache-dir``), or False (``--no-cache``)."""
    if path is not None:
        if not _is_file(path):
            what = "not a regular file" if os.path.lexists(path) else "config file not found"
            raise ConfigError(f"{path}: {what}")
        found: Path | None = path
    else:
        found = find_config(start or Path.cwd())
    if found is None:
        return Config(path=None, root=project_root())
    table = dict(_read_table(found))
    section = _section(found)
    root = Path(os.path.realpath(found.parent))
    by_name: dict[str, Any] = {}
    if set(table) - _SETTING_KEYS - {"guard"}:  # a rule's table, or a key to report
        from attnlint.lint.rules import all_rules

        by_name = {rule.name: rule for rule in all_rules().values()}
        by_name.update(all_rules())
    rule_tables: dict[str, Any] = {}
    guard_table: Any = None
    for key in list(table):
        if key in by_name:
            rule_tables[key] = table.pop(key)
        elif key == "guard":
            guard_table = table.pop(key)
    from attnlint.config_cache import validated_settings

    settings = validated_settings(
        table, found, section, by_name, root, cache, bool(rule_tables or guard_table is not None)
    )
    config = Config(path=found, root=root, settings=settings)
    if rule_tables or guard_table is not None:
        from pydantic import ValidationError
    for key, value in rule_tables.items():
        rule = by_name[key]
        sub = f"[tool.attnlint.{key}]" if section else f"[{key}]"
        if not isinstance(value, dict):
            raise ConfigError(f"{shown(found)}: {sub} must be a table")
        snake = {k.replace("-", "_"): v for k, v in value.items()}
        try:
            config.rule_options[rule.code] = rule.Options.model_validate(snake)
        except ValidationError as exc:
            valid = _fields(rule.Options)
            raise _one_line(exc, found, sub, _spellings(value), valid) from None
    if guard_table is not None:
        from attnlint.guard.config import GuardConfig

        sub = "[tool.attnlint.guard]" if section else "[guard]"
        if not isinstance(guard_table, dict):
            raise ConfigError(f"{shown(found)}: {sub} must be a table")
        snake = {k.replace("-", "_"): v for k, v in guard_table.items()}
        try:
            config.guard = GuardConfig.model_validate(snake)
        except ValidationError as exc:
            valid = _fields(GuardConfig)
            raise _one_line(exc, found, sub, _spellings(guard_table), valid) from None
    validate_selectors(config)
    validate_patterns(config)
    return config


def _known(selector: str, codes: Iterable[str]) -> bool:
    sel = selector.upper()
    return sel == "ALL" or any(code.startswith(sel) for code in [*codes, *ENGINE_CODES])


def check_selectors(selectors: Iterable[str], where: str) -> None:
    codes = rule_codes()
    for selector in selectors:
        if not isinstance(selector, str) or not selector.strip():
            # "" is a prefix of every code: it would select (or ignore) all of them.
            raise ConfigError(f"{where}empty rule code {selector!r}")
        if not _known(selector.strip(), codes):
            from attnlint.lint.rules import all_rules

            names = {rule.name: code for code, rule in all_rules().items()}
            hint = did_you_mean(selector.strip(), [*codes, *ENGINE_CODES, "ALL"])
            if selector in names:
                hint = f" (did you mean {names[selector]!r}? rules are selected by code)"
            raise ConfigError(f"{where}unknown rule code {selector!r}{hint}")


def check_patterns(patterns: Iterable[str], where: str) -> None:
    """A glob git would take but Python's ``re`` cannot (``[z-a]``) is an error here,
    naming where it came from, before any file is walked."""
    from attnlint.lint.discovery import bad_pattern

    for pattern in patterns:
        why = bad_pattern(pattern)
        if why is not None:
            raise ConfigError(f"{where}bad glob {pattern!r}: {why}")


def validate_selectors(config: Config) -> None:
    assert config.path is not None
    section = _section(config.path)
    where = _where(config.path, section)
    s = config.settings
    check_selectors([*(s.select or []), *s.extend_select, *s.ignore], where)
    for pattern, codes in s.per_file_ignores.items():
        check_selectors(codes, f"{where}per-file-ignores {pattern!r}: ")


def validate_patterns(config: Config) -> None:
    assert config.path is not None
    where = _where(config.path, _section(config.path))
    s = config.settings
    check_patterns(s.exclude or [], f"{where}exclude: ")
    check_patterns(s.extend_exclude, f"{where}extend-exclude: ")
    check_patterns(s.per_file_ignores, f"{where}per-file-ignores: ")


def _matches(code: str, selectors: Iterable[str]) -> bool:
    return any(sel.upper() == "ALL" or code.startswith(sel.upper()) for sel in selectors)


@dataclass(slots=True)
class Selection:
    """select / extend-select / ignore from one layer (the file, then the command line)."""

    select: Sequence[str] | None = None
    extend_select: Sequence[str] = ()
    ignore: Sequence[str] = ()


def resolve_codes(layers: Iterable[Selection]) -> list[str]:
    """Enabled codes after applying the layers in order: a later layer's ``select``
    replaces the set (so ``--select AL101`` beats an ``ignore`` in the file), ``extend-select``
    adds, ``ignore`` removes. AL000 and AL001 stay on unless they are ignored."""
    codes = rule_codes()
    engine = set(ENGINE_CODES)
    enabled = set(codes) | engine
    for layer in layers:
        if layer.select is not None:
            enabled = {c for c in codes if _matches(c, layer.select)} | engine
        enabled |= {c for c in codes if _matches(c, layer.extend_select)}
        enabled -= {c for c in [*codes, *engine] if _matches(c, layer.ignore)}
    return sorted(enabled)
