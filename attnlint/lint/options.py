"""A rule's options: plain classes, validated with pydantic only when a config sets them.

Every lint run instantiates every rule's options, and most runs (a pre-commit hook on a
few files) set none of them. Declaring them as pydantic models would import pydantic and
build a validator per rule on each of those runs (about 80 ms, a quarter of a one-file
run). So a rule declares its options as annotated class attributes with defaults:

    class MyOptions(RuleOptions):
        # what the option does
        threshold: float = 1.0

``MyOptions()`` holds the defaults, read as attributes. ``MyOptions.model_validate(table)``
and ``MyOptions.model_fields`` are pydantic's, on a model of the same fields built on first
use: keys may be written ``kebab-case`` or ``snake_case``, unknown keys are an error, and
the validated instance is read the same way as the defaults.
"""

from __future__ import annotations

import functools
import typing
from typing import Any


def kebab(name: str) -> str:
    return name.replace("_", "-")


class _OptionsMeta(type):
    @property
    def model_fields(cls) -> dict[str, Any]:
        return dict(_model(cls).model_fields)

    def model_validate(cls, obj: Any) -> Any:
        """``obj`` validated against the class's fields (pydantic's ``ValidationError``)."""
        return _model(cls).model_validate(obj)


class RuleOptions(metaclass=_OptionsMeta):
    """Options of a rule with none, and the base of those that have some."""

    def __repr__(self) -> str:
        values = ", ".join(f"{k}={getattr(self, k)!r}" for k in defaults(type(self)))
        return f"{type(self).__name__}({values})"


def defaults(cls: type) -> dict[str, Any]:
    """Field name -> default, in declaration order (base classes first)."""
    found: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        for name in vars(klass).get("__annotations__", {}):
            if not name.startswith("_"):
                found[name] = getattr(cls, name)
    return found


@functools.cache
def _model(cls: type) -> Any:
    from pydantic import ConfigDict, create_model

    hints = typing.get_type_hints(cls)
    spec: dict[str, Any] = {name: (hints[name], value) for name, value in defaults(cls).items()}
    config = ConfigDict(extra="forbid", alias_generator=kebab, populate_by_name=True)
    return create_model(cls.__name__, __config__=config, **spec)
