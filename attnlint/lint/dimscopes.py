"""What AL201's cross-function half records per scope (``dimsite.Sites``): the names bound
to the data's width, to configuration objects and to widths, the comparisons, the
overrides, and the call sites the project index decides."""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst


@dataclass(slots=True)
class ScopeFacts:
    node: cst.FunctionDef | cst.Module  # the module: a script's (a notebook's) top level
    params: set[str]
    in_model: bool
    in_class: bool
    data: set[str] = field(default_factory=set)  # names bound from the data's width
    widths: set[str] = field(default_factory=set)  # ... to the width itself (``dims.is_width``)
    objects: set[str] = field(default_factory=set)  # names bound to configuration objects
    model_configs: set[str] = field(default_factory=set)  # ``cfg = block.config``
    compared: set[str] = field(default_factory=set)  # names in comparisons (not ``is None``)
    kept: set[str] = field(default_factory=set)  # parameters handed to a call or to ``self``
    overrides: list[tuple[str, str]] = field(default_factory=list)  # (param, key)
    reads: list[tuple[str, str]] = field(default_factory=list)  # (param, key) in model code
    rewritten: set[str] = field(default_factory=set)  # cfg["model"] of cfg["model"]["in_dim"] = x
    aliases: dict[str, str] = field(default_factory=dict)  # ``c = config``: c -> config


@dataclass(slots=True)
class Site:
    call: cst.Call
    node: cst.BaseExpression
    slot: str
    kind: str  # "data" or "config"
    names: set[str]


def plain_params(node: cst.FunctionDef) -> set[str]:
    p = node.params
    return {param.name.value for param in (*p.posonly_params, *p.params, *p.kwonly_params)}
