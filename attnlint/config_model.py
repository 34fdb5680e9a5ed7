"""The pydantic model of ``[tool.attnlint]``'s top-level keys, imported only when a
configuration file is read (pydantic costs a pre-commit run tens of milliseconds)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from attnlint.lint.options import kebab


class LintSettings(BaseModel):
    """The top-level keys of ``[tool.attnlint]`` (rule tables and ``guard`` are separate)."""

    model_config = ConfigDict(extra="forbid", alias_generator=kebab, populate_by_name=True)

    select: list[str] | None = None
    extend_select: list[str] = Field(default_factory=list)
    ignore: list[str] = Field(default_factory=list)
    per_file_ignores: dict[str, list[str]] = Field(default_factory=dict)
    exclude: list[str] | None = None
    extend_exclude: list[str] = Field(default_factory=list)
