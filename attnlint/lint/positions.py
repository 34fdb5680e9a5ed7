"""Positions of a few nodes, at the price of one plain codegen pass.

libcst's ``PositionProvider`` records a ``CodeRange`` for every node and splits every
token on newlines; on real files that costs more than the parse itself (measured: 1.3x a
parse, against 0.15x for plain codegen). A file with findings needs the positions of a
handful of nodes, so this codegen state only counts characters, records offsets for the
wanted nodes (and for the children their syntactic range is taken from), and converts
those few offsets to line/column at the end. The ranges are the same as
``PositionProvider``'s: whitespace that is not syntactically significant is excluded.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from itertools import accumulate

import libcst as cst
from libcst._nodes.internal import CodegenState
from libcst.metadata import CodePosition, CodeRange

_NEWLINE = re.compile(r"\r\n?|\n")  # libcst's own line breaks
_NULL = nullcontext()


class _OffsetState(CodegenState):
    """Codegen that records where the ``wanted`` nodes start and end, as token indices.

    Token lengths are summed once at the end (``offsets``) rather than per token: the
    ``add_token`` of the base class stays as it is, and a large file has a million tokens.
    """

    def __init__(self, module: cst.Module, wanted: set[int]) -> None:
        super().__init__(
            default_indent=module.default_indent, default_newline=module.default_newline
        )
        self.wanted = wanted  # ids: nodes compare by identity
        self.starts: dict[int, int] = {}
        self.ranges: dict[int, tuple[int, int]] = {}

    def pop_trailing_newline(self) -> None:
        # Like PositionProvider: the position still counts the newline that is not written.
        # The tokens are never joined, so the newline simply stays.
        pass

    def before_codegen(self, node: cst.CSTNode) -> None:
        if id(node) in self.wanted:
            self.starts[id(node)] = len(self.tokens)

    def after_codegen(self, node: cst.CSTNode) -> None:
        key = id(node)
        if key in self.wanted and key not in self.ranges:
            self.ranges[key] = (self.starts[key], len(self.tokens))

    def record_syntactic_position(
        self,
        node: cst.CSTNode,
        *,
        start_node: cst.CSTNode | None = None,
        end_node: cst.CSTNode | None = None,
    ) -> AbstractContextManager[None]:
        if id(node) not in self.wanted:
            return _NULL
        # The hoisted bounds come from children generated inside the block: want them too.
        for child in (start_node, end_node):
            if child is not None:
                self.wanted.add(id(child))
        return self._record(node, start_node, end_node)

    @contextmanager
    def _record(
        self, node: cst.CSTNode, start_node: cst.CSTNode | None, end_node: cst.CSTNode | None
    ) -> Iterator[None]:
        start = len(self.tokens)
        try:
            yield
        finally:
            end = len(self.tokens)
            if start_node is not None:
                start = self.ranges[id(start_node)][0]
            if end_node is not None:
                end = self.ranges[id(end_node)][1]
            self.ranges[id(node)] = (start, end)


def node_ranges(
    module: cst.Module, source: str, nodes: Iterable[cst.CSTNode]
) -> dict[cst.CSTNode, CodeRange]:
    """``PositionProvider``-equivalent ranges (1-based lines, 0-based columns) of ``nodes``."""
    targets = list(nodes)
    state = _OffsetState(module, {id(node) for node in targets})
    module._codegen(state)
    offsets = [0, *accumulate(map(len, state.tokens))]  # token index -> character offset
    line_starts = [0, *(m.end() for m in _NEWLINE.finditer(source))]

    def position(offset: int) -> CodePosition:
        if offset > len(source):  # past the missing final newline
            return CodePosition(len(line_starts) + 1, 0)
        line = bisect.bisect_right(line_starts, offset)
        return CodePosition(line, offset - line_starts[line - 1])

    out: dict[cst.CSTNode, CodeRange] = {}
    for node in targets:
        found = state.ranges.get(id(node))
        if found is not None:
            out[node] = CodeRange(position(offsets[found[0]]), position(offsets[found[1]]))
    return out
