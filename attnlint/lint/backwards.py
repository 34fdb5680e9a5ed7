"""Functions of a module that differentiate one of their parameters: ``def
backward_step(loss, scaler, opt): scaler.scale(loss).backward()``, ``def _update(self,
loss): self.accelerator.backward(loss)``. A loss handed to one of them is a loss built,
as much as a ``loss.backward()`` written in place (a Trainer's ``_step`` / ``_update``)."""

from __future__ import annotations

from functools import lru_cache

import libcst as cst

from attnlint.lint.callers import bound_arguments, module_functions
from attnlint.lint.flow import read_names
from attnlint.lint.helpers import parameter_names
from attnlint.lint.values import backward_value
from attnlint.lint.vocab import callee_last
from attnlint.lint.walk import walk

Differentiating = tuple[cst.FunctionDef, frozenset[str]]  # a function, the parameters


@lru_cache(maxsize=8)
def _differentiating(module: cst.Module) -> dict[str, tuple[Differentiating, ...]]:
    found: dict[str, list[Differentiating]] = {}
    for function, _ in module_functions(module):
        params = parameter_names(function) - {"self", "cls"}
        hit: set[str] = set()
        for node in walk(function.body):
            if isinstance(node, cst.Call):
                value = backward_value(node)
                if value is not None:
                    hit |= read_names(value) & params
        if hit:
            found.setdefault(function.name.value, []).append((function, frozenset(hit)))
    return {name: tuple(items) for name, items in found.items()}


def _callees(module: cst.Module, call: cst.Call) -> tuple[Differentiating, ...]:
    """The functions of this module ``call`` may call (by name, or through ``self.``)
    that differentiate a parameter."""
    func = call.func
    plain = isinstance(func, cst.Name)
    on_self = (
        isinstance(func, cst.Attribute)
        and isinstance(func.value, cst.Name)
        and func.value.value in ("self", "cls")
    )
    return _differentiating(module).get(callee_last(call), ()) if plain or on_self else ()


def differentiates(module: cst.Module, call: cst.Call) -> bool:
    """``call`` calls a function of this module that differentiates a parameter."""
    return bool(_callees(module, call))


def hands_to_backward(module: cst.Module, call: cst.Call, used: set[str]) -> bool:
    """``call`` hands a value read from ``used`` to a parameter its callee (a function of
    this module, or a method through ``self.``) differentiates."""
    for function, params in _callees(module, call):
        arguments = bound_arguments(function, call)
        if any(read_names(arguments[p]) & used for p in params if p in arguments):
            return True
    return False
