"""``from utils import *`` in a training script: the helpers it calls by their bare names
(``clip_and_step(...)``) are the star-imported module's. A name the module calls but never
binds, and that is not a builtin, is read as that module's (the last such import, as
Python's own lookup of a name both define), so the project index can follow it; phase 2
finds nothing when the module does not define it. Only project modules count: a star
import of a library (``from torch.nn import *``) names no helper of the project."""

from __future__ import annotations

import builtins

import libcst as cst

from attnlint.lint.rule import dotted_name
from attnlint.lint.summary import LIBRARIES
from attnlint.lint.walk import walk

_BUILTINS = frozenset(dir(builtins))


def _star_module(node: cst.ImportFrom) -> str | None:
    if not isinstance(node.names, cst.ImportStar):
        return None
    base = (dotted_name(node.module) or "") if node.module is not None else ""
    full = "." * len(node.relative) + base
    if not full or (not node.relative and base.partition(".")[0] in LIBRARIES):
        return None
    return full


def _target(node: cst.CSTNode) -> cst.CSTNode | None:
    """What an assignment, loop, comprehension, ``with ... as`` or walrus binds."""
    if isinstance(node, cst.AssignTarget | cst.AnnAssign | cst.AugAssign | cst.For):
        return node.target
    if isinstance(node, cst.CompFor | cst.NamedExpr):
        return node.target
    if isinstance(node, cst.WithItem) and node.asname is not None:
        return node.asname.name
    return None


def star_names(
    module: cst.Module, imports: dict[str, str], statements: list[cst.ImportFrom]
) -> dict[str, str]:
    """Called-but-unbound name -> ``<star module>.<name>``, for the last project star
    import among the module's ``statements`` (none without one)."""
    stars = [star for node in statements if (star := _star_module(node)) is not None]
    if not stars:
        return {}
    bound: set[str] = set(imports)
    called: set[str] = set()
    for node in walk(module):
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Name):
            called.add(node.func.value)
        elif isinstance(node, cst.FunctionDef | cst.ClassDef | cst.Param):
            bound.add(node.name.value)
        else:
            target = _target(node)
            if target is not None:
                bound.update(n.value for n in walk(target) if isinstance(n, cst.Name))
    source = stars[-1]
    sep = "" if source.endswith(".") else "."
    return {name: f"{source}{sep}{name}" for name in called - bound - _BUILTINS}
