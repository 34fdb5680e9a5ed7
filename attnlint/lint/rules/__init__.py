"""The rule catalogue: one module per rule, named for its code (``al101.py``)."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from attnlint.lint.rule import Rule


@cache
def all_rules() -> dict[str, type[Rule]]:
    """Every rule class, keyed by code, in code order."""
    found: dict[str, type[Rule]] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Rule)
                and value.__module__ == module.__name__
            ):
                found[value.code] = value
    return dict(sorted(found.items()))
