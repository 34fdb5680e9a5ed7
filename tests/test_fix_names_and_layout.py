"""AL402's and AL103's fixes: names resolved where the fix writes, only the intended text
changed, and the fixed programs run and do what the rule pages say."""

from __future__ import annotations

import difflib
import logging
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from attnlint.lint.engine import lint_source  # noqa: E402
from attnlint.lint.fixer import apply_fixes  # noqa: E402
from attnlint.lint.rules import all_rules  # noqa: E402

AL402 = [all_rules()["AL402"]]
AL103 = [all_rules()["AL103"]]


def _changed(before: str, after: str) -> list[str]:
    return [
        line for line in difflib.ndiff(before.splitlines(), after.splitlines()) if line[:1] in "+-"
    ]


def _run(source: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "fixed"}
    exec(compile(source, "fixed.py", "exec"), namespace)
    return namespace


# -- AL402: torch.finfo, but only where that name is the torch module ----------------

ATTEND = """\
import torch


def attend(s, pad):
    return torch.softmax(s.masked_fill(pad, float("-inf")), -1)


s = torch.randn(3, 4, dtype=DTYPE)
pad = torch.tensor([[False, True, False, False], [True] * 4, [False] * 4])
out = attend(s, pad)
"""


@pytest.mark.parametrize("dtype", ["torch.float32", "torch.float64", "torch.bfloat16"])
def test_al402_fixed_program_turns_only_the_empty_row_finite(dtype: str) -> None:
    source = ATTEND.replace("DTYPE", dtype)
    fixed = apply_fixes(source, "attend.py", AL402).source
    assert _changed(source, fixed) == [
        '-     return torch.softmax(s.masked_fill(pad, float("-inf")), -1)',
        "+     return torch.softmax(s.masked_fill(pad, torch.finfo(s.dtype).min), -1)",
    ]
    torch.manual_seed(0)
    before = _run(source)["out"]
    torch.manual_seed(0)
    after = _run(fixed)["out"]
    assert torch.isnan(before[1]).all()  # the fully masked row, as the page says
    assert torch.isfinite(after).all()
    assert torch.equal(after[0], before[0]) and torch.equal(after[2], before[2])


@pytest.mark.parametrize(
    "source",
    [
        # a parameter named torch shadows the module
        "import torch\n\n\ndef f(s, m, torch):\n"
        "    return torch.softmax(s.masked_fill(m, float('-inf')), -1)\n",
        # ... in the enclosing function
        "import torch\n\n\ndef outer(torch):\n    def f(s, m):\n"
        "        return s.masked_fill(m, float('-inf')).softmax(-1)\n\n    return f\n",
        # rebound locally
        "import torch\n\n\ndef f(s, m):\n    torch = None\n"
        "    return s.masked_fill(m, float('-inf')).softmax(-1)\n",
        # imported only inside another function: not visible here
        "def load():\n    import torch\n\n\ndef f(s, m):\n"
        "    return s.masked_fill(m, float('-inf')).softmax(-1)\n",
    ],
)
def test_al402_no_fix_where_torch_is_not_the_module(source: str) -> None:
    found = lint_source(source, "attend.py", AL402)
    assert found and not any(d.fixable for d in found)
    assert apply_fixes(source, "attend.py", AL402).source == source


def test_al402_takes_an_alias_that_is_not_shadowed() -> None:
    source = (
        "import torch\nimport torch as T\n\n\ndef f(s, m, torch):\n"
        "    return s.masked_fill(m, float('-inf')).softmax(-1)\n"
    )
    fixed = apply_fixes(source, "attend.py", AL402).source
    assert "s.masked_fill(m, T.finfo(s.dtype).min)" in fixed
    args = (torch.zeros(2, 3), torch.tensor([[True] * 3, [False] * 3]), None)
    assert torch.isfinite(_run(fixed)["f"](*args)).all()


def test_al402_local_import_is_used() -> None:
    source = (
        "def f(s, m):\n    import torch\n\n    return s.masked_fill(m, float('-inf')).softmax(-1)\n"
    )
    fixed = apply_fixes(source, "attend.py", AL402).source
    out = _run(fixed)["f"](torch.zeros(1, 2), torch.tensor([[True, True]]))
    assert torch.isfinite(out).all()


# -- AL103: continuation lines stay where they were -----------------------------------

CLIP = """\
import logging

import torch

log = logging.getLogger("attnlint-test-al103")


class Trainer:
    def step(self, model, max_norm):
        for _ in range(2):
            model.weight.grad = torch.full_like(model.weight, 3.0)
            torch.nn.utils.clip_grad_norm_(
                model.parameters(),
                max_norm,  # the configured norm
            )


Trainer().step(torch.nn.Linear(2, 2, bias=False), 0.5)
"""


def test_al103_fix_keeps_continuation_lines_and_logs_the_norm(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert [d.fixable for d in lint_source(CLIP, "train.py", AL103)] == [True]
    fixed = apply_fixes(CLIP, "train.py", AL103, unsafe=True).source
    assert _changed(CLIP, fixed) == [
        "-             torch.nn.utils.clip_grad_norm_(",
        "+             grad_norm = torch.nn.utils.clip_grad_norm_(",
        '+             log.info("grad_norm=%.4f", grad_norm)',
    ]
    with caplog.at_level(logging.INFO, logger="attnlint-test-al103"):
        _run(fixed)
    assert [r.getMessage() for r in caplog.records] == ["grad_norm=6.0000"] * 2
    assert apply_fixes(CLIP, "train.py", AL103).source == CLIP  # unsafe: needs opt-in


def test_al103_parenthesised_call_gets_no_broken_fix() -> None:
    source = CLIP.replace(
        "            torch.nn.utils.clip_grad_norm_(\n"
        "                model.parameters(),\n"
        "                max_norm,  # the configured norm\n"
        "            )\n",
        "            (torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm))\n",
    )
    found = lint_source(source, "train.py", AL103)
    assert [d.code for d in found] == ["AL103"] and not found[0].fixable
    assert apply_fixes(source, "train.py", AL103, unsafe=True).source == source


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # a parameter named like the module's logger is some other object: no fix
        (
            "import logging\n\nimport torch\n\nlogger = logging.getLogger(__name__)\n\n\n"
            "def step(model, max_norm, logger):\n"
            "    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)\n",
            None,
        ),
        # the module's logger, seen from the function
        (
            "import logging\n\nimport torch\n\nlogger = logging.getLogger(__name__)\n\n\n"
            "def step(model, max_norm):\n"
            "    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)\n",
            '    logger.info("grad_norm=%.4f", grad_norm)',
        ),
        # wandb shadowed by a parameter: not that module
        (
            "import torch\nimport wandb\n\nwandb.log({})\n\n\n"
            "def step(model, max_norm, wandb):\n"
            "    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)\n",
            None,
        ),
        (
            "from loguru import logger\n\nimport torch\n\n\n"
            "def step(model, max_norm):\n"
            "    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)\n",
            '    logger.info("grad_norm={:.4f}", grad_norm)',
        ),
    ],
)
def test_al103_logger_names_are_resolved_where_the_line_goes(
    source: str, expected: str | None
) -> None:
    found = lint_source(source, "train.py", AL103)
    assert [d.code for d in found] == ["AL103"]
    fixed = apply_fixes(source, "train.py", AL103, unsafe=True).source
    if expected is None:
        assert not found[0].fixable and fixed == source
    else:
        assert fixed.splitlines()[-1] == expected
