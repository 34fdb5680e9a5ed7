"""Read-only traversal of a libcst tree.

``CSTNode.visit`` rebuilds and re-validates every node it passes, even for a visitor that
changes nothing (libcst's own comment in ``CSTNode.visit`` says so); on real code that costs
more than the parse itself. Rules never change the tree, so the engine walks the
dataclass fields directly, in source order, and skips the trivia nodes (whitespace,
commas, parentheses) that no rule looks at.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from functools import cache

import libcst as cst

# Fields holding only trivia: whitespace, punctuation, blank lines and comments.
_TRIVIA_FIELDS = frozenset(
    {
        "lpar",
        "rpar",
        "leading_lines",
        "lines_after_decorators",
        "header",
        "footer",
        "comma",
        "semicolon",
        "newline",
        "trailing_whitespace",
        "equal",
        "colon",
        "dot",
        "lbracket",
        "rbracket",
        "lbrace",
        "rbrace",
        "star_tok",
        "asynchronous",
        "whitespace",
    }
)

# Where dataclass field order differs from source order in a way a rule could notice.
_SOURCE_ORDER: dict[type[cst.CSTNode], tuple[str, ...]] = {
    cst.FunctionDef: ("decorators", "name", "params", "returns", "body"),
    cst.ClassDef: ("decorators", "name", "bases", "keywords", "body"),
    cst.IfExp: ("body", "test", "orelse"),
    cst.Arg: ("keyword", "value"),
}


@cache
def _child_fields(kind: type[cst.CSTNode]) -> tuple[str, ...]:
    if kind in _SOURCE_ORDER:
        return _SOURCE_ORDER[kind]
    return tuple(
        f.name
        for f in dataclasses.fields(kind)  # type: ignore[arg-type]
        if f.name not in _TRIVIA_FIELDS and not f.name.startswith("whitespace")
    )


def children(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """The non-trivia child nodes of ``node``, in source order."""
    for name in _child_fields(type(node)):
        value = getattr(node, name)
        if isinstance(value, cst.CSTNode):
            yield value
        elif isinstance(value, tuple | list):
            for item in value:
                if isinstance(item, cst.CSTNode):
                    yield item


def walk(node: cst.CSTNode, prune: tuple[type[cst.CSTNode], ...] = ()) -> Iterator[cst.CSTNode]:
    """``node`` and every non-trivia node below it, pre-order, in source order.

    Nodes of a ``prune`` type (other than ``node`` itself) are yielded but not entered.
    """
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if current is node or not isinstance(current, prune):
            stack.extend(reversed(list(children(current))))


_Hook = Callable[[cst.CSTNode], object]


@cache
def _hook_names(kind: type) -> tuple[str, ...]:
    # libcst's get_visitors() runs inspect.getmembers on every instance, which costs more
    # per file than a rule's work; the names depend on the class only.
    # Only hooks our own classes define: libcst's base classes declare typed stubs for
    # every node, which would turn each node into a no-op call.
    names = tuple(
        {
            name
            for klass in kind.__mro__
            if not klass.__module__.startswith("libcst")
            for name in vars(klass)
            if name.startswith(("visit_", "leave_"))
        }
    )
    for name in names:
        if "_" in name.partition("_")[2]:
            # Attribute hooks (visit_Call_func) are not supported: fail loudly rather
            # than let a rule silently lose one.
            raise TypeError(f"{kind.__name__}.{name}: attribute hooks are not supported")
    return names


def visit_batched(root: cst.CSTNode, visitors: Iterable[cst.BatchableCSTVisitor]) -> None:
    """Call every visitor's ``visit_<Node>`` / ``leave_<Node>`` in one read-only pass."""
    enter: dict[str, list[_Hook]] = defaultdict(list)
    leave: dict[str, list[_Hook]] = defaultdict(list)
    for visitor in visitors:
        for name in _hook_names(type(visitor)):
            kind, _, node_name = name.partition("_")
            (enter if kind == "visit" else leave)[node_name].append(getattr(visitor, name))
    enter_get, leave_get = enter.get, leave.get
    # Each stack entry is (node, entering?): leave hooks run after the subtree.
    stack: list[tuple[cst.CSTNode, bool]] = [(root, True)]
    while stack:
        node, entering = stack.pop()
        name = type(node).__name__
        if not entering:
            for hook in leave_get(name, ()):
                hook(node)
            continue
        for hook in enter_get(name, ()):
            hook(node)
        stack.append((node, False))
        stack.extend((child, True) for child in reversed(list(children(node))))
