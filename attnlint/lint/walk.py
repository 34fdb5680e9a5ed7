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
from typing import TypeVar

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

_V = TypeVar("_V")

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


class TypeTable(dict[type, _V]):
    """``type -> answer``, each answer computed once per class by ``decide``.

    libcst's node classes are ABCs: every ``isinstance`` against one that fails goes
    through ``ABCMeta.__instancecheck__`` in Python, and the walks below would make
    millions of those per large file. A dictionary hit on ``type(value)`` costs a hash.
    """

    def __init__(self, decide: Callable[[type], _V]) -> None:
        super().__init__()
        self._decide = decide

    def __missing__(self, kind: type) -> _V:
        answer = self[kind] = self._decide(kind)
        return answer


def subclass_table(*classes: type) -> TypeTable[bool]:
    """``table[type(x)]`` is ``isinstance(x, classes)``, at the price of a dict lookup."""
    return TypeTable(lambda kind: issubclass(kind, classes))


_NODE, _MANY = 1, 2
# What a field's value is: a node, a tuple or list (of nodes, maybe), or neither.
_KIND: TypeTable[int] = TypeTable(
    lambda kind: (
        _NODE if issubclass(kind, cst.CSTNode) else _MANY if issubclass(kind, tuple | list) else 0
    )
)


def _lister(kind: type[cst.CSTNode]) -> Callable[[cst.CSTNode], list[cst.CSTNode]]:
    """``child_list`` for one class, its field names written out: the generic loop's
    ``getattr`` per field name is a third of a walk's time, and walks run per scope."""
    lines = ["def children(node):", "    out = []"]
    for name in _child_fields(kind):
        if not name.isidentifier():  # a dataclass field always is; stay safe regardless
            raise TypeError(f"{kind.__name__}.{name}")
        lines += [
            f"    value = node.{name}",
            "    kind = KIND[type(value)]",
            "    if kind == NODE:",
            "        out.append(value)",
            "    elif kind == MANY:",
            "        out.extend([item for item in value if KIND[type(item)] == NODE])",
        ]
    lines.append("    return out")
    space = {"KIND": _KIND, "NODE": _NODE, "MANY": _MANY}
    exec("\n".join(lines), space)  # the text above, built from dataclass field names
    return space["children"]  # type: ignore[no-any-return]


_LISTERS: TypeTable[Callable[[cst.CSTNode], list[cst.CSTNode]]] = TypeTable(_lister)


def child_list(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The non-trivia child nodes of ``node``, in source order, as a list."""
    return _LISTERS[type(node)](node)


def children(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """The non-trivia child nodes of ``node``, in source order."""
    return iter(child_list(node))


_PRUNE: dict[tuple[type[cst.CSTNode], ...], TypeTable[bool]] = {}


def walk(node: cst.CSTNode, prune: tuple[type[cst.CSTNode], ...] = ()) -> Iterator[cst.CSTNode]:
    """``node`` and every non-trivia node below it, pre-order, in source order.

    Nodes of a ``prune`` type (other than ``node`` itself) are yielded but not entered.
    """
    pruned = _PRUNE.get(prune)
    if pruned is None:
        pruned = _PRUNE[prune] = subclass_table(*prune)
    yield node
    listers = _LISTERS
    stack = listers[type(node)](node)
    stack.reverse()
    while stack:
        current = stack.pop()
        yield current
        kind = type(current)
        if not pruned[kind]:
            below = listers[kind](current)
            below.reverse()
            stack.extend(below)


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
    plans: TypeTable[tuple[tuple[_Hook, ...], tuple[_Hook, ...]]] = TypeTable(
        lambda kind: (tuple(enter.get(kind.__name__, ())), tuple(leave.get(kind.__name__, ())))
    )
    # A node with leave hooks is pushed again under a marker: they run after its subtree.
    # Plain entries (no tuples) keep the loop cheap for the many nodes no rule looks at.
    leaving = _LEAVING
    stack: list[object] = [root]
    while stack:
        node = stack.pop()
        if node is leaving:
            node = stack.pop()
            for hook in plans[type(node)][1]:
                hook(node)  # type: ignore[arg-type]
            continue
        on_enter, on_leave = plans[type(node)]
        for hook in on_enter:
            hook(node)  # type: ignore[arg-type]
        if on_leave:
            stack.append(node)
            stack.append(leaving)
        below = child_list(node)  # type: ignore[arg-type]
        below.reverse()
        stack.extend(below)


_LEAVING = object()
