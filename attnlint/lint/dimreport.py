"""AL201's findings at the call sites the module hands a width or a configuration to,
decided by the project index: the override, the data's width beside a configured one,
and a configuration object whose width nothing compares with the data."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from attnlint.lint.dimscopes import Site

if TYPE_CHECKING:
    from attnlint.lint.rule import Rule

OVERRIDE = "al201.override"
OVERRIDE_CHECKED = "al201.override_checked"  # an override its function compares
INPUT = "al201.input"

_OVERRIDE_MESSAGE = (
    "the data's width ({shown}) is passed to {{callee}}, called here, which lets it override "
    "the configured `{{detail}}` without comparing the two: a changed feature pipeline "
    "silently builds a different model; assert they match (and log the resolved value) here"
)
_DATA_MESSAGE = (
    "the data's width ({shown}) sizes the input of {{callee}}, called here, while the "
    "configuration holds its own `{{detail}}` and nothing compares the two: assert they "
    "match where the first batch is seen"
)
_CONFIG_MESSAGE = (
    "{shown} carries the configured `{{detail}}` into {{callee}}, called here, which sizes "
    "the model's input with it, and nothing in this module compares it with the data's "
    "shape[-1]: assert they match where the first batch is seen"
)


def report_sites(
    rule: Rule,
    sites: Iterable[Site],
    checked: set[str],
    data_checked: set[str],
    configured: set[str],
) -> None:
    """Pending findings at ``sites`` (each not compared in the module), for phase 2."""
    code = rule.context.code_for
    for site in sites:
        shown = code(site.node).strip()
        if site.kind == "data":
            rule.report_if(
                site.node,
                site.call,
                site.slot,
                OVERRIDE,
                _OVERRIDE_MESSAGE.format(shown=shown),
                unless=data_checked,  # a neighbour helper's own check is not this one
            )
            if configured:
                rule.report_if(
                    site.node,
                    site.call,
                    site.slot,
                    INPUT,
                    _DATA_MESSAGE.format(shown=shown),
                    unless=checked,
                    among=configured,
                )
        else:
            rule.report_if(
                site.node,
                site.call,
                site.slot,
                INPUT,
                _CONFIG_MESSAGE.format(shown=shown),
                unless=checked,
            )
