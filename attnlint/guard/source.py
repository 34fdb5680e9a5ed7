"""What a module's source says, for the modules torch.fx cannot trace, and where it is.

``source_attention_calls`` reads ``forward`` with the stdlib ``ast`` (the runtime half never
imports libcst) so that ``guard.sites`` can list expected sites at construction;
``site_sources`` records, per site, the module class with its file and line, so that
``attnlint report`` can lint that code under a runtime violation.
"""

from __future__ import annotations

import ast
import inspect
import os
import re
import sys
import textwrap
from collections.abc import Mapping
from typing import Any

from torch import nn

_ATTENTION_ATTRS = {"softmax", "scaled_dot_product_attention"}
_ATTENTION_TEXT = re.compile(r"\bsoftmax\(|scaled_dot_product_attention\(")
_TORCH_DIR = os.path.dirname(nn.__file__).rsplit(os.sep, 1)[0]


def _forward_tree(module: nn.Module) -> tuple[ast.FunctionDef | None, dict[str, Any]]:
    try:
        fn = inspect.unwrap(type(module).forward)
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError, ValueError):
        return None, {}
    func = tree.body[0] if tree.body else None
    if not isinstance(func, ast.FunctionDef):
        return None, {}
    return func, getattr(fn, "__globals__", {})


def _attention_helper(name: str, obj: Any) -> bool:
    """A global the forward uses that computes attention: a Python function whose own
    source calls softmax / SDPA (Hugging Face's ``eager_attention_forward``), or a registry
    of attention functions (``ALL_ATTENTION_FUNCTIONS``)."""
    if "ATTENTION_FUNCTIONS" in name.upper():
        return True
    if not inspect.isfunction(obj):
        return False
    try:
        return bool(_ATTENTION_TEXT.search(inspect.getsource(obj)))
    except (OSError, TypeError):
        return False


def source_attention_calls(module: nn.Module) -> int:
    """How many attention calls ``forward``'s source makes (softmax, SDPA, or a call to an
    attention helper, directly or through a local bound to one)."""
    func, globals_ = _forward_tree(module)
    if func is None:
        return 0
    helpers = {
        n.id
        for n in ast.walk(func)
        if isinstance(n, ast.Name) and n.id in globals_ and _attention_helper(n.id, globals_[n.id])
    }
    for node in ast.walk(func):  # attention_interface = ALL_ATTENTION_FUNCTIONS.get(...)
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            used = {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
            if used & helpers:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                helpers.update(t.id for t in targets if isinstance(t, ast.Name))
    count = 0
    for node in ast.walk(func):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if (isinstance(f, ast.Attribute) and f.attr in _ATTENTION_ATTRS) or (
            isinstance(f, ast.Name) and (f.id in _ATTENTION_ATTRS or f.id in helpers)
        ):
            count += 1
    return count


def _where(obj: type) -> dict[str, Any]:
    try:
        file = inspect.getsourcefile(obj)
        line = inspect.getsourcelines(obj)[1]
    except (OSError, TypeError):
        # a class whose module is not in sys.modules (loaded from a path): its forward's
        # code still knows where it was defined
        code = getattr(
            inspect.unwrap(getattr(obj, "forward", None) or (lambda: None)), "__code__", None
        )
        file = code.co_filename if code is not None else None
        line = code.co_firstlineno if code is not None else None
    return {
        "class": f"{obj.__module__}.{obj.__qualname__}",
        "file": os.path.abspath(file) if file else None,
        "line": line,
    }


def _is_torch(obj: type) -> bool:
    return (obj.__module__ or "").split(".")[0] == "torch"


def site_sources(model: nn.Module, sites: Mapping[str, str]) -> dict[str, Any]:
    """Header entries: per site the module's class, file and line, plus ``owner``, the
    nearest enclosing module that is not torch's own (the code a user can change); and
    the training script (``sys.argv[0]`` when it is a Python file)."""
    out: dict[str, Any] = {}
    for site in sites:
        path = site.split("[", 1)[0]
        path = "" if path == "root" else path
        try:
            module = model.get_submodule(path)
        except AttributeError:
            continue
        entry = _where(type(module))
        parts = path.split(".") if path else []
        for depth in range(len(parts), -1, -1):
            owner = model.get_submodule(".".join(parts[:depth]))
            if not _is_torch(type(owner)):
                if owner is not module:
                    entry["owner"] = _where(type(owner))
                break
        out[site] = entry
    script = sys.argv[0] if sys.argv and sys.argv[0] else ""
    is_script = script.endswith(".py") and os.path.isfile(script) and not _library(script)
    return {
        "site_sources": out,
        "script": os.path.abspath(script) if is_script else None,
        "caller": _caller(),
    }


_OWN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _library(path: str) -> bool:
    """attnlint's own code, an installed package, or the standard library."""
    full = os.path.abspath(path)
    return (
        full.startswith(_OWN_DIR + os.sep)
        or "-packages" + os.sep in full
        or full.startswith(os.path.dirname(os.__file__) + os.sep)
    )


def _caller() -> str | None:
    """The innermost Python file on the stack that is the user's own: the training loop
    that is stepping the guard (under pytest, Lightning or a Trainer too)."""
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename
        if name.endswith(".py") and os.path.isfile(name) and not _library(name):
            return os.path.abspath(name)
        frame = frame.f_back
    return None


def confirm(sites: dict[str, str], seen: Mapping[str, Any]) -> None:
    """After the first sampled forward: an expected site that did not run is dropped (sites
    that ran were relabelled with how they are observed when first intercepted)."""
    from attnlint.guard.sites import HOW_EXPECTED

    for site in [s for s, how in sites.items() if how == HOW_EXPECTED and s not in seen]:
        del sites[site]
