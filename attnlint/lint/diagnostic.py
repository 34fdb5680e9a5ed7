"""What a rule reports: a diagnostic, and the fix it may carry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # a warm (cached) run builds Diagnostics without ever loading libcst
    import libcst as cst

Applicability = Literal["safe", "unsafe"]


@dataclass(frozen=True, slots=True)
class Edit:
    """One change to the source, anchored on a node of the parsed module.

    ``replace``: the node's code range becomes ``content``.
    ``insert_before``: ``content`` (one or more whole lines, no indentation, no trailing
    newline) is inserted on its own line(s) before the statement ``node``, at that
    statement's indentation.
    ``insert_after``: the same, after the statement ``node``.
    ``content`` may be a CST node; the engine renders it with ``module.code_for_node``.
    """

    node: cst.CSTNode
    content: str | cst.CSTNode
    kind: Literal["replace", "insert_before", "insert_after"] = "replace"


@dataclass(frozen=True, slots=True)
class Fix:
    description: str
    edits: tuple[Edit, ...]
    applicability: Applicability = "safe"


@dataclass(slots=True)
class Diagnostic:
    """One finding. Lines and columns are 1-based; ``end_*`` is exclusive of nothing:
    it is the position just after the last character, as ruff reports it."""

    code: str
    message: str
    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    fix: Fix | None = field(default=None, compare=False)
    # A notebook's findings: the 1-based cell (counting every cell, as the notebook shows
    # them); ``line`` / ``end_line`` then count within that cell.
    cell: int | None = None

    @property
    def fixable(self) -> bool:
        return self.fix is not None

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "path": self.path,
            "cell": self.cell,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "fixable": self.fixable,
            "fix_applicability": self.fix.applicability if self.fix else None,
            "fix_description": self.fix.description if self.fix else None,
        }
