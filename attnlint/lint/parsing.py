"""A large tree, built and walked cheaply: libcst's parse without its per-node checks, and
the cyclic garbage collector paused while one file is analysed.

Every libcst node checks its fields when it is built (``CSTNode.__post_init__`` calls
``_validate``: a name is an identifier, whitespace is whitespace, parentheses pair up).
That guards trees a program builds by hand; the parser's nodes come from the grammar, and
by the time the engine parses, CPython's ``compile()`` has accepted the text. libcst's
own comment there says the check could move out of parsing. The check is switched off
only while ``parse_module`` runs; the static half builds no nodes in other threads
meanwhile (a program that did would have those unchecked for that moment, which is why
this is not a public helper).

A parse allocates about ten objects per source line, and the rules' walks allocate more;
each time the collector's oldest generation fills up it traverses every live object, the
whole tree included, although a tree holds no reference cycles (children never point to
their parents). Measured on the 20k-line benchmark modules: 17-21% of ``analyse``. The
collector is paused for one file at a time and switched back on after it, so cycles made
meanwhile are collected then.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

import libcst as cst

_CHECKED = cst.CSTNode.__dict__.get("__post_init__")


def _unchecked(self: cst.CSTNode) -> None:
    return None


def parse_module(text: str) -> cst.Module:
    """``libcst.parse_module(text)``, the same tree, without the per-node checks."""
    if _CHECKED is None:  # a libcst that no longer checks there: nothing to skip
        return cst.parse_module(text)
    cst.CSTNode.__post_init__ = _unchecked  # type: ignore[method-assign]
    try:
        return cst.parse_module(text)
    finally:
        cst.CSTNode.__post_init__ = _CHECKED  # type: ignore[method-assign]


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block; back as it was after it."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
