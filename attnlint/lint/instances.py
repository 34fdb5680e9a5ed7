"""Calls of a module's own ``nn.Module`` instances: ``self.block(h, mask)`` after ``self.block
= Block(...)``, and ``layer(h, mask)`` in ``for layer in self.layers`` after ``self.layers =
nn.ModuleList([Block(...) for _ in range(n)])``. Each calls ``Block.forward``: AL402 asks
these calls whether the mask they hand a layer keeps a column (``callers(...,
instances=True)``). AL401 does not: they pass the layer's input, not its q and k."""

from __future__ import annotations

from functools import lru_cache

import libcst as cst

from attnlint.lint.walk import walk

Caller = tuple[cst.FunctionDef, str | None, cst.Call]


def _self_attribute(node: cst.BaseExpression) -> str | None:
    if (
        isinstance(node, cst.Attribute)
        and isinstance(node.value, cst.Name)
        and node.value.value == "self"
    ):
        return node.attr.value
    return None


def _constructs(value: cst.BaseExpression) -> set[str]:
    """The classes ``value`` makes instances of (``Block(...)``, also inside a
    ``ModuleList``, a list, a comprehension)."""
    found: set[str] = set()
    for node in walk(value):
        if isinstance(node, cst.Call):
            func = node.func
            if isinstance(func, cst.Attribute):
                func = func.attr
            if isinstance(func, cst.Name) and func.value[:1].isupper():
                found.add(func.value)
    return found


@lru_cache(maxsize=8)
def instance_calls(module: cst.Module) -> dict[str, tuple[Caller, ...]]:
    """Class name -> the calls of its instances held on ``self`` (the caller functions
    as ``callers.module_functions`` gives them)."""
    from attnlint.lint.callers import module_functions  # callers imports this module

    functions = module_functions(module)
    held: dict[str, set[str]] = {}  # self attribute -> classes it holds
    for function, _ in functions:
        for node in walk(function.body):
            if isinstance(node, cst.Assign):
                for target in node.targets:
                    name = _self_attribute(target.target)
                    if name is not None:
                        held.setdefault(name, set()).update(_constructs(node.value))
    found: dict[str, list[Caller]] = {}
    for function, own in functions:
        loops: dict[str, set[str]] = {}  # loop variable -> classes of the items
        for node in walk(function.body):
            if isinstance(node, cst.For) and isinstance(node.target, cst.Name):
                name = _self_attribute(node.iter)
                if name in held:
                    loops[node.target.value] = held[name]
            elif isinstance(node, cst.Call):
                func = node.func
                name = _self_attribute(func)
                if name is None and isinstance(func, cst.Subscript):
                    name = _self_attribute(func.value)  # self.layers[i](h)
                classes = held.get(name, set()) if name is not None else set()
                if isinstance(func, cst.Name):
                    classes = loops.get(func.value, set())
                for klass in classes:
                    found.setdefault(klass, []).append((function, own, node))
    return {klass: tuple(calls) for klass, calls in found.items()}
