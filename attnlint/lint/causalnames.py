"""Masks that never hide a whole row, told by their names or by what they are bound to.

Causal masks keep the diagonal visible, the top-k / top-p filters of sampling code keep
the best token, the vocabulary masks of generation code keep some token: a name that says
so is enough (``causal_mask``, ``self.bias`` in minGPT). Attributes are also judged by
their value, since their names say little (the decision transformer's causal buffer is
``self.mask``): an attribute bound to ``torch.tril(...)`` or registered as a buffer with
one is causal whatever its name. Those are scanned once per module.
"""

from __future__ import annotations

import libcst as cst

from attnlint.lint.callers import module_functions
from attnlint.lint.flow import read_names
from attnlint.lint.helpers import string_value
from attnlint.lint.rule import dotted_name
from attnlint.lint.vocab import callee_last, name_tokens
from attnlint.lint.walk import walk

NEVER_EMPTY_WORDS = frozenset(
    {
        "causal", "tril", "triu", "bias", "subsequent", "future", "autoregressive", "diag",
        "topk", "top", "remove", "cumsum", "vocab",
    }
)  # fmt: skip
_TRIANGULAR = frozenset({"tril", "triu", "tril_", "triu_", "tril_indices", "triu_indices"})


def triangular(expr: cst.CSTNode) -> bool:
    return any(isinstance(n, cst.Call) and callee_last(n) in _TRIANGULAR for n in walk(expr))


def causal_attributes(module: cst.Module) -> dict[str | None, frozenset[str]]:
    """Per class (None: outside any), the attribute chains bound to a triangular mask:
    ``self.mask`` for ``self.register_buffer("mask", torch.tril(...))`` or ``self.mask =
    torch.tril(...)`` in its methods."""
    found: dict[str | None, set[str]] = {}
    for function, klass in module_functions(module):
        for node in walk(function):
            chain = None
            if isinstance(node, cst.Call) and callee_last(node) == "register_buffer":
                args = [arg for arg in node.args if not arg.star]
                if len(args) >= 2 and triangular(args[1].value):
                    name = string_value(args[0].value)
                    chain = f"self.{name}" if name else None
            elif isinstance(node, cst.Assign) and triangular(node.value):
                for target in node.targets:
                    if isinstance(target.target, cst.Attribute):
                        chain = dotted_name(target.target)
            if chain is not None:
                found.setdefault(klass, set()).add(chain)
    return {klass: frozenset(chains) for klass, chains in found.items()}


def never_empty_by_name(expr: cst.CSTNode, causal: frozenset[str]) -> bool:
    """``expr`` (a mask, or where it came from) names a mask that keeps a key in every row,
    or reads an attribute of ``causal``."""
    attributes = [n for n in walk(expr) if isinstance(n, cst.Attribute)]
    words = read_names(expr) | name_tokens(expr) | {n.attr.value for n in attributes}
    if any(set(word.lower().split("_")) & NEVER_EMPTY_WORDS for word in words):
        return True
    return bool(causal) and any(dotted_name(n) in causal for n in attributes)
