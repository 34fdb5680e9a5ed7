"""``[tool.attnlint]``: finding it, validating it, and resolving the rules it enables.

Every problem is a ``ConfigError`` whose text is one line naming the file and the key;
the CLI prints it and exits 2. Torch-free; rule classes are imported only to validate
rule selectors and option tables.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SYNTAX_CODE = "AL000"


class ConfigError(Exception):
    """A bad configuration or option: one line, shown as ``attnlint: <text>``."""


def _kebab(name: str) -> str:
    return name.replace("_", "-")


class LintSettings(BaseModel):
    """The top-level keys of ``[tool.attnlint]`` (rule tables and ``guard`` are separate)."""

    model_config = ConfigDict(extra="forbid", alias_generator=_kebab, populate_by_name=True)

    select: list[str] | None = None
    extend_select: list[str] = Field(default_factory=list)
    ignore: list[str] = Field(default_factory=list)
    per_file_ignores: dict[str, list[str]] = Field(default_factory=dict)
    exclude: list[str] | None = None
    extend_exclude: list[str] = Field(default_factory=list)


@dataclass(slots=True)
class Config:
    """A validated configuration file (or the defaults when there is none)."""

    path: Path | None
    root: Path
    settings: LintSettings = field(default_factory=LintSettings)
    rule_options: dict[str, BaseModel] = field(default_factory=dict)
    guard: Any = None  # attnlint.guard.config.GuardConfig when the table is present

    @property
    def label(self) -> str:
        return self.path.name if self.path is not None else "<defaults>"


def _section(path: Path) -> str:
    return "[tool.attnlint]" if path.name == "pyproject.toml" else ""


def _where(path: Path, table: str) -> str:
    return f"{path.name}: {table} " if table else f"{path.name}: "


def _one_line(
    exc: ValidationError, path: Path, table: str, spelled: dict[str, str] | None = None
) -> ConfigError:
    """The first pydantic error as ``file: [table] key: what``, the key as the user wrote it."""
    err = exc.errors()[0]
    parts = [str(part) for part in err["loc"]]
    if parts and spelled:
        parts[0] = spelled.get(parts[0], parts[0])
    key = ".".join(parts) or "(table)"
    if err["type"] == "extra_forbidden":
        return ConfigError(f"{_where(path, table)}unknown key {key!r}")
    value = err.get("input")
    shown = f" (got {value!r})" if isinstance(value, str | int | float | bool) else ""
    return ConfigError(f"{_where(path, table)}{key!r}: {err['msg']}{shown}")


def _spellings(table: dict[str, Any]) -> dict[str, str]:
    return {key.replace("-", "_"): key for key in table}


def find_config(start: Path) -> Path | None:
    """The nearest ``attnlint.toml``, or ``pyproject.toml`` with a ``[tool.attnlint]``
    table, in ``start`` or one of its parents."""
    start = start.resolve()
    here = start if start.is_dir() else start.parent
    for folder in (here, *here.parents):
        own = folder / "attnlint.toml"
        if own.is_file():
            return own
        project = folder / "pyproject.toml"
        if project.is_file():
            try:
                text = project.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if "[tool.attnlint" in text:
                return project
    return None


def project_root() -> Path:
    """Without a configuration file, patterns and the cache are anchored where the
    command runs (as ruff does), never in some enclosing repository."""
    return Path.cwd().resolve()


def _read_table(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path.name}: invalid TOML: {exc}") from None
    if path.name == "pyproject.toml":
        table = data.get("tool", {}).get("attnlint", {})
        if not isinstance(table, dict):
            raise ConfigError(f"{path.name}: [tool.attnlint] must be a table")
        return table
    return data


def load_config(path: Path | None = None, start: Path | None = None) -> Config:
    """Read ``path`` (``--config``) or the file found from ``start``; defaults if none."""
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        found: Path | None = path
    else:
        found = find_config(start or Path.cwd())
    if found is None:
        return Config(path=None, root=project_root())
    table = dict(_read_table(found))
    section = _section(found)
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
    try:
        settings = LintSettings.model_validate(table)
    except ValidationError as exc:
        raise _one_line(exc, found, section) from None
    config = Config(path=found, root=found.parent.resolve(), settings=settings)
    for key, value in rule_tables.items():
        rule = by_name[key]
        sub = f"[tool.attnlint.{key}]" if section else f"[{key}]"
        if not isinstance(value, dict):
            raise ConfigError(f"{found.name}: {sub} must be a table")
        snake = {k.replace("-", "_"): v for k, v in value.items()}
        try:
            config.rule_options[rule.code] = rule.Options.model_validate(snake)
        except ValidationError as exc:
            raise _one_line(exc, found, sub, _spellings(value)) from None
    if guard_table is not None:
        from attnlint.guard.config import GuardConfig

        sub = "[tool.attnlint.guard]" if section else "[guard]"
        if not isinstance(guard_table, dict):
            raise ConfigError(f"{found.name}: {sub} must be a table")
        snake = {k.replace("-", "_"): v for k, v in guard_table.items()}
        try:
            config.guard = GuardConfig.model_validate(snake)
        except ValidationError as exc:
            raise _one_line(exc, found, sub, _spellings(guard_table)) from None
    validate_selectors(config)
    return config


def _known(selector: str, codes: Iterable[str]) -> bool:
    sel = selector.upper()
    return sel == "ALL" or any(code.startswith(sel) for code in [*codes, SYNTAX_CODE])


def check_selectors(selectors: Iterable[str], where: str) -> None:
    from attnlint.lint.rules import all_rules

    codes = list(all_rules())
    for selector in selectors:
        if not _known(selector.strip(), codes):
            raise ConfigError(f"{where}unknown rule code {selector!r}")


def validate_selectors(config: Config) -> None:
    assert config.path is not None
    section = _section(config.path)
    where = _where(config.path, section)
    s = config.settings
    check_selectors([*(s.select or []), *s.extend_select, *s.ignore], where)
    for pattern, codes in s.per_file_ignores.items():
        check_selectors(codes, f"{where}per-file-ignores {pattern!r}: ")


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
    adds, ``ignore`` removes. AL000 stays on unless it is ignored."""
    from attnlint.lint.rules import all_rules

    codes = list(all_rules())
    enabled = set(codes) | {SYNTAX_CODE}
    for layer in layers:
        if layer.select is not None:
            enabled = {c for c in codes if _matches(c, layer.select)} | {SYNTAX_CODE}
        enabled |= {c for c in codes if _matches(c, layer.extend_select)}
        enabled -= {c for c in [*codes, SYNTAX_CODE] if _matches(c, layer.ignore)}
    return sorted(enabled)
