"""Every fix of AL104 and AL402: the fixed text parses, a second run changes nothing, the
rule is silent on the result, and `attnlint check --fix` writes the file in place."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest

from attnlint.cli import main
from attnlint.lint.engine import lint_source
from attnlint.lint.fixer import apply_fixes
from attnlint.lint.rules import all_rules

AL104_LOOP = """\
import torch


def train(model, loader, optimizer, criterion):
    scaler = torch.cuda.amp.GradScaler()
    for x, y in loader:
        with torch.autocast("cuda"):
            loss = criterion(model(x), y)
        scaler.scale(loss).backward()
        total = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        if total > 10:
            torch.nn.utils.clip_grad_value_(model.parameters(), 0.5)
        scaler.step(optimizer)
        scaler.update()
"""

AL104_METHOD = """\
from torch.nn import utils


class Trainer:
    def step(self, loss):
        self.grad_scaler.scale(loss).backward()
        utils.clip_grad_norm_(self.model.parameters(), self.max_norm)
        self.grad_scaler.step(self.opt)
        self.grad_scaler.update()
"""

AL402_ALIAS = """\
import math

import torch as T


def attend(q, k, v, pad):
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    s.masked_fill_(pad, -math.inf)
    p = T.softmax(s, -1)
    return p @ v
"""

AL402_THREE = """\
import numpy as np
import torch


class Pool(torch.nn.Module):
    def forward(self, h, valid):
        e = self.score(h).squeeze(-1)
        e = e.masked_fill(~valid, -np.inf)
        w = e.softmax(-1)
        self.logits[~valid] = float("-inf")
        a = self.logits.softmax(-1)
        g = torch.where(valid, e, -float("inf"))
        return w, a, torch.softmax(g, -1)
"""

CASES = [
    ("AL104", AL104_LOOP, "scaler.unscale_(optimizer)"),
    ("AL104", AL104_METHOD, "self.grad_scaler.unscale_(self.opt)"),
    ("AL402", AL402_ALIAS, "T.finfo(s.dtype).min"),
    ("AL402", AL402_THREE, "torch.finfo(self.logits.dtype).min"),
]


@pytest.mark.parametrize(("code", "source", "expected"), CASES)
def test_fix_parses_is_idempotent_and_silences(code: str, source: str, expected: str) -> None:
    rule = all_rules()[code]
    before = lint_source(source, "train.py", rules=[rule])
    assert before and all(d.code == code for d in before)
    assert any(d.fixable for d in before)
    fixed = apply_fixes(source, "train.py", rules=[rule])
    assert fixed.applied >= 1
    assert expected in fixed.source
    cst.parse_module(fixed.source)  # parses
    assert apply_fixes(fixed.source, "train.py", rules=[rule]).source == fixed.source
    assert lint_source(fixed.source, "train.py", rules=[rule]) == []


def test_al104_inserts_once_before_the_first_clip() -> None:
    fixed = apply_fixes(AL104_LOOP, "train.py", rules=[all_rules()["AL104"]]).source
    lines = fixed.splitlines()
    assert fixed.count(".unscale_(") == 1  # a second unscale_ in one step raises
    at = lines.index("        scaler.unscale_(optimizer)")
    assert "clip_grad_norm_" in lines[at + 1]


def test_al402_fix_respects_each_fill_site() -> None:
    fixed = apply_fixes(AL402_THREE, "train.py", rules=[all_rules()["AL402"]]).source
    assert "e.masked_fill(~valid, torch.finfo(e.dtype).min)" in fixed
    assert "torch.where(valid, e, torch.finfo(e.dtype).min)" in fixed
    assert "inf" not in fixed.replace("finfo", "")


@pytest.mark.parametrize(
    ("code", "source"),
    [
        # two optimizers stepped: which one to unscale is a guess
        (
            "AL104",
            "import torch\n\n\ndef f(m, scaler, g, d, loss):\n"
            "    scaler.scale(loss).backward()\n"
            "    torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)\n"
            "    scaler.step(g)\n    scaler.step(d)\n",
        ),
        # the first clip sits in a branch the second one does not: no single place
        (
            "AL104",
            "import torch\n\n\ndef f(m, scaler, opt, loss, big):\n"
            "    scaler.scale(loss).backward()\n"
            "    if big:\n"
            "        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)\n"
            "    torch.nn.utils.clip_grad_value_(m.parameters(), 1.0)\n"
            "    scaler.step(opt)\n",
        ),
        # unscale_ already called after the clip: inserting another would raise
        (
            "AL104",
            "import torch\n\n\ndef f(m, scaler, opt, loss):\n"
            "    scaler.scale(loss).backward()\n"
            "    torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)\n"
            "    scaler.unscale_(opt)\n    scaler.step(opt)\n",
        ),
        # torch is not imported as a module: no name to write torch.finfo with
        (
            "AL402",
            "from torch.nn.functional import softmax\n\n\ndef f(s, m):\n"
            "    return softmax(s.masked_fill(m, float('-inf')), -1)\n",
        ),
    ],
)
def test_no_fix_when_it_cannot_be_made_safely(code: str, source: str) -> None:
    rule = all_rules()[code]
    found = lint_source(source, "train.py", rules=[rule])
    assert found and {d.code for d in found} == {code}
    assert not any(d.fixable for d in found)
    assert apply_fixes(source, "train.py", rules=[rule]).source == source


@pytest.mark.parametrize(("code", "source", "expected"), CASES)
def test_cli_fix_writes_into_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], code: str, source: str, expected: str
) -> None:
    target = tmp_path / "train.py"
    target.write_text(source, encoding="utf-8")
    inode = target.stat().st_ino
    assert main(["check", "--select", code, "--fix", "--no-cache", str(target)]) == 0
    assert "Fixed" in capsys.readouterr().out
    text = target.read_text(encoding="utf-8")
    assert expected in text
    assert target.stat().st_ino == inode  # written into, not replaced (links, owner kept)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.py"]  # no temp files left
    assert main(["check", "--select", code, "--no-cache", str(target)]) == 0
    assert main(["check", "--select", code, "--fix", "--no-cache", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == text
