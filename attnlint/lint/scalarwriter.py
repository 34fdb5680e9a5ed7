"""The ``X.add_scalar(...)`` call a module already makes, for AL103's fix: the fix logs the
clip norm with the same writer and the same step argument the user wrote."""

from __future__ import annotations

import libcst as cst

from attnlint.lint.helpers import call_arg


def scalar_writer(code: str) -> tuple[str, str] | None:
    """The receiver of an ``X.add_scalar(...)`` call in ``code``, and its step argument.

    Read from text on purpose: the fix only needs to copy what the user wrote.
    """
    at = code.find(".add_scalar(")
    if at < 0:
        return None
    start = at
    while start > 0 and (code[start - 1].isalnum() or code[start - 1] in "_."):
        start -= 1
    receiver = code[start:at]
    if not receiver or (not receiver[0].isalpha() and receiver[0] != "_"):
        return None
    try:
        call = cst.parse_expression(code[start : _closing(code, at + len(".add_scalar("))])
    except (cst.ParserSyntaxError, ValueError):
        return receiver, ""
    step = ""
    if isinstance(call, cst.Call):
        arg = call_arg(call, "global_step", 2)
        if arg is not None:
            step = f", {cst.Module([]).code_for_node(arg.value)}"
    return receiver, step


def _closing(code: str, start: int) -> int:
    """Offset just after the parenthesis closing the one opened before ``start``."""
    depth = 1
    for index in range(start, len(code)):
        if code[index] == "(":
            depth += 1
        elif code[index] == ")":
            depth -= 1
            if depth == 0:
                return index + 1
    raise ValueError("unbalanced")
