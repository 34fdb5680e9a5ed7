"""Calls between the functions of one module, for the two questions the project index
cannot answer (its phase 2 decides findings *at a call* from the callee's summary):

* AL401: is an unscaled product in a helper scaled by every caller in the module
  (``attend(q * self.scale, k, v)``)? The finding in the callee depends on its callers.
* AL402: does the caller check the mask with a helper of the same module before the
  ``-inf`` fill (``self._check_rows(mask)``)? The finding depends on what a callee does.

Both look inside the module being checked: a plain name (``helper(...)``) or a method on
``self`` / ``cls`` / the class itself (``self.attend(...)``). AL402 asks the first kind of
question too: a helper's ``-inf`` fill of a mask parameter is safe when every caller
builds that mask with a column it never masks (``F.pad(keep, (1, 0), value=True)``).

For a module-level helper with no caller in its own module, the callers in other checked
modules decide (phase 2, ``attnlint.lint.callervotes``): the helper records a fact on the
parameter, at its finding, whose detail says what protects it (``SCALED`` for AL401, the
kept column's value for AL402); every call of an imported helper records a pending
finding per argument whose ``among`` says what that argument has. The helper's finding
is dropped when at least one call protects it and every call does.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import libcst as cst

from attnlint.lint.instances import instance_calls
from attnlint.lint.summary import LIBRARIES
from attnlint.lint.walk import walk

# Fact: this parameter of a module-level helper reaches an unscaled q-k softmax that no
# caller in the helper's own module scales (recorded at the softmax, detail ``SCALED``).
SCALED_BY_CALLER = "al401.unscaled"
SCALED = "scaled"
# Fact: this parameter of a module-level helper is the mask of a -inf fill that reaches a
# softmax; detail: the value ("True" / "False") of a column the fill never masks.
KEPT_BY_CALLER = "al402.masked"
# Facts decided by the votes of every caller (not by the first call that holds).
CALLER_DECIDED = frozenset({SCALED_BY_CALLER, KEPT_BY_CALLER})
# Imported names that are never a project helper (with those the index never follows).
_LIBRARIES = LIBRARIES | frozenset(
    {"torch", "numpy", "math", "einops", "jax", "transformers", "timm", "lightning"}
    | {"pytorch_lightning", "xformers", "flash_attn", "typing", "functools", "os", "scipy"}
    | {"unittest", "argparse", "shutil", "subprocess", "textwrap", "string", "glob"}
    | {"torchvision", "torchaudio", "PIL", "huggingface_hub", "safetensors", "tqdm"}
    | {"packaging", "tokenizers", "accelerate", "deepspeed", "apex", "triton", "sklearn"}
)


def imported_helper(call: cst.Call, imports: dict[str, str]) -> bool:
    """``call`` calls a module-level function imported from elsewhere that may be a
    project module's (``attend(...)``, ``layers.attend(...)``: the head of its name is
    imported, and not from a known library). Not a class or a name on one (``Block(...)``,
    ``Block.attend(...)``, ``REGISTRY.get(...)``: the callers' facts are only asked about
    module-level functions), nor an in-place function (``init.normal_``)."""
    func: cst.BaseExpression = call.func
    last = func.attr.value if isinstance(func, cst.Attribute) else ""
    while isinstance(func, cst.Attribute):
        if func.attr.value[:1].isupper():
            return False
        func = func.value
    if not isinstance(func, cst.Name) or func.value not in imports:
        return False
    name = last or func.value
    # ``Block.attend``, ``REGISTRY.get``; a short alias (``import pkg.layers as L``) is
    # a module's
    on_class = func is not call.func and len(func.value) > 2 and func.value[:1].isupper()
    if name[:1].isupper() or on_class:
        return False
    if name.endswith("_") and not name.endswith("__"):
        return False
    return imports[func.value].lstrip(".").partition(".")[0] not in _LIBRARIES


def literal(value: cst.BaseExpression) -> bool:
    """A constant argument (``None``, ``0.0``, ``"mean"``): never q, k or a mask."""
    if isinstance(value, cst.Name):
        return value.value in ("None", "True", "False")
    return isinstance(value, cst.BaseNumber | cst.BaseString)


def two_tensors(call: cst.Call) -> bool:
    """The call passes at least two arguments that may be tensors (q and k; the scores
    and the mask): an attention helper cannot be called with fewer."""
    return sum(1 for arg in call.args if not literal(arg.value)) >= 2


@lru_cache(maxsize=8)
def module_functions(module: cst.Module) -> tuple[tuple[cst.FunctionDef, str | None], ...]:
    """Every function and method of ``module`` with the name of its class (or None)."""
    out: list[tuple[cst.FunctionDef, str | None]] = []
    stack: list[tuple[cst.CSTNode, str | None]] = [(module, None)]
    while stack:
        node, klass = stack.pop()
        body = getattr(node, "body", None)
        items = body.body if isinstance(body, cst.BaseSuite) else body
        if not isinstance(items, tuple | list):
            continue
        for item in items:
            if isinstance(item, cst.FunctionDef):
                out.append((item, klass))
                stack.append((item, None))
            elif isinstance(item, cst.ClassDef):
                stack.append((item, item.name.value))
            elif isinstance(item, cst.If | cst.Try | cst.With):
                stack.append((item, klass))
    return tuple(out)


def _names(call: cst.Call, function: str, klass: str | None) -> bool:
    """Whether ``call`` calls ``function`` (a method of ``klass`` when given)."""
    func = call.func
    if klass is None:
        return isinstance(func, cst.Name) and func.value == function
    return (
        isinstance(func, cst.Attribute)
        and func.attr.value == function
        and isinstance(func.value, cst.Name)
        and func.value.value in ("self", "cls", klass)
    )


@lru_cache(maxsize=8)
def _calls_by_name(
    module: cst.Module,
) -> dict[str, tuple[tuple[cst.FunctionDef, str | None, cst.Call], ...]]:
    """Every call made inside the module's functions, by the name it calls (the bare name
    or the attribute), with the function that makes it and that function's class: one walk
    per module however many findings ask, so a large file stays linear."""
    found: dict[str, list[tuple[cst.FunctionDef, str | None, cst.Call]]] = {}
    for function, own in module_functions(module):
        for node in walk(function.body):
            if not isinstance(node, cst.Call):
                continue
            func = node.func
            if isinstance(func, cst.Name):
                found.setdefault(func.value, []).append((function, own, node))
            elif isinstance(func, cst.Attribute):
                found.setdefault(func.attr.value, []).append((function, own, node))
    return {name: tuple(calls) for name, calls in found.items()}


@lru_cache(maxsize=8)
def _functions_by_name(
    module: cst.Module,
) -> dict[str, tuple[tuple[cst.FunctionDef, str | None], ...]]:
    found: dict[str, list[tuple[cst.FunctionDef, str | None]]] = {}
    for function, own in module_functions(module):
        found.setdefault(function.name.value, []).append((function, own))
    return {name: tuple(functions) for name, functions in found.items()}


def callers(
    module: cst.Module, target: cst.FunctionDef, klass: str | None, instances: bool = False
) -> Iterator[tuple[cst.FunctionDef, cst.Call]]:
    """Calls of ``target`` (a method of ``klass``, or a module function) inside the
    module's functions, with the function that makes each. ``instances``: a ``forward``
    is also called by the calls of the module's instances of ``klass`` (what they pass is
    the layer's input, a mask say, not its q and k)."""
    name = target.name.value
    for function, own, call in _calls_by_name(module).get(name, ()):
        if klass is not None and own != klass:
            continue  # ``self.attend`` in another class is another method
        if _names(call, name, klass):
            yield function, call
    if instances and klass is not None and name == "forward":  # ``self.block(h, mask)``
        for function, _, call in instance_calls(module).get(klass, ()):
            yield function, call


def callee(module: cst.Module, call: cst.Call, klass: str | None) -> cst.FunctionDef | None:
    """The function of this module that ``call`` calls, if it names one."""
    func = call.func
    if isinstance(func, cst.Name):
        name = func.value
    elif isinstance(func, cst.Attribute):
        name = func.attr.value
    else:
        return None
    for function, own in _functions_by_name(module).get(name, ()):
        if _names(call, function.name.value, own) and (own is None or own == klass):
            return function
    return None


def bound_arguments(function: cst.FunctionDef, call: cst.Call) -> dict[str, cst.BaseExpression]:
    """Parameter name -> the argument ``call`` passes to it (a method's ``self`` is
    skipped when called through an attribute)."""
    params = function.params
    positional = [p.name.value for p in (*params.posonly_params, *params.params)]
    # through an attribute (``self.attend(...)``) or an instance (``layer(h)`` of a
    # ``forward``): the method is bound
    bound = not (isinstance(call.func, cst.Name) and call.func.value == function.name.value)
    if bound and positional and positional[0] in ("self", "cls"):
        positional = positional[1:]
    out: dict[str, cst.BaseExpression] = {}
    index = 0
    for arg in call.args:
        if arg.star:
            return out  # *args / **kw: the rest cannot be placed
        if arg.keyword is not None:
            out[arg.keyword.value] = arg.value
        elif index < len(positional):
            out[positional[index]] = arg.value
            index += 1
    return out
