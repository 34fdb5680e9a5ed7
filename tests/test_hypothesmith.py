"""Generated programs: attnlint answers every one, and says AL000 exactly when CPython does.

hypothesmith writes programs from Python's grammar (``from_grammar``: mostly valid, some
not) and from libcst's node types (``from_node``: valid); a mutation step then breaks
some of them (a slice deleted or repeated, a token, a byte that is not UTF-8 inserted).
The rules' trigger words are appended to every program, so that libcst really parses it
and the rules really walk it. With ``ATTNLINT_LONG=1`` each test runs thousands of
examples; the normal suite runs a few dozen of each.
"""

from __future__ import annotations

import os
import warnings

import hypothesmith
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attnlint.lint.engine import analyse, select_rules
from attnlint.lint.runner import decode_tolerant

LONG = os.environ.get("ATTNLINT_LONG") == "1"
RULES = select_rules()
# Words that make each rule's visitor run (and libcst parse the file); no finding needed.
TRIGGERS = (
    "\nimport torch\n"
    "opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)\n"
    "norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)\n"
    "scaler.scale(loss).backward()\n"
    "scores = torch.nan_to_num(torch.softmax(q @ k.transpose(-2, -1), dim=-1))\n"
    "x = scores.masked_fill(mask, float('-inf')).clamp(-5, 5)\n"
)
TOKENS = [
    "(",
    ")",
    "[",
    ":",
    ",",
    "=",
    "*",
    "**",
    "\\",
    "\n",
    "\t",
    "\x0c",
    " ",
    "#",
    "'",
    '"""',
    "lambda",
    "return",
    "yield",
    "await",
    "nonlocal x",
    "break",
    "async ",
    "def f(a, a): 0",
    "from __future__ import braces",
    "except A, B:",
    "type X = int",
    "(x): int = 1",
]


def _cpython_rejects(data: bytes) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(data, "m.py", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return True
    return False


def _agrees(data: bytes) -> None:
    try:
        source, _, _ = decode_tolerant(data)
    except (SyntaxError, LookupError):  # a bad coding cookie: CPython refuses it too
        assert _cpython_rejects(data)
        return
    assert any(t in source for rule in RULES for t in rule.triggers)
    found = analyse(source, "m.py", RULES, check_syntax=True, data=data).diagnostics
    codes = {d.code for d in found}
    assert ("AL000" in codes) == _cpython_rejects(data), (codes, data[:300])
    assert not {"AL000", "AL001"} <= codes
    for d in found:
        assert d.line >= 1 and d.column >= 1 and "\n" not in d.message


def _settings(fast: int, long: int) -> settings:
    return settings(
        max_examples=long if LONG else fast,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=not LONG,  # the normal suite is the same every run
        database=None,
    )


@_settings(fast=40, long=5000)
@given(hypothesmith.from_grammar())
def test_grammar_programs(program: str) -> None:
    _agrees((program + TRIGGERS).encode("utf-8", "surrogatepass"))


@_settings(fast=8, long=1000)
@given(hypothesmith.from_node())
def test_node_programs(program: str) -> None:
    _agrees((program + TRIGGERS).encode("utf-8", "surrogatepass"))


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    data = draw(hypothesmith.from_grammar()).encode("utf-8", "surrogatepass")
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        end = draw(st.integers(at, min(len(data), at + 40)))
        how = draw(st.sampled_from(["delete", "repeat", "token", "byte"]))
        if how == "delete":
            data = data[:at] + data[end:]
        elif how == "repeat":
            data = data[:end] + data[at:end] * draw(st.integers(2, 50)) + data[end:]
        elif how == "token":
            data = data[:at] + draw(st.sampled_from(TOKENS)).encode() + data[at:]
        else:
            data = data[:at] + bytes([draw(st.integers(0x80, 0xFF))]) + data[at:]
    return data + TRIGGERS.encode()


@_settings(fast=40, long=4000)
@given(_mutated())
def test_mutated_programs(data: bytes) -> None:
    _agrees(data)
