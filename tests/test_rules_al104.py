"""AL104 clip-before-unscale: positives under a GradScaler, negatives without one."""

from __future__ import annotations

import pytest

from attnlint.lint.engine import lint_source
from attnlint.lint.rules.al104 import ClipBeforeUnscale


def lines(source: str) -> list[int]:
    return [d.line for d in lint_source(source, "train.py", rules=[ClipBeforeUnscale])]


def test_script_top_level_loop_fires() -> None:
    source = """\
import torch
from torch.cuda.amp import GradScaler
from torch.nn.utils import clip_grad_norm_ as clip

scaler = GradScaler()
for x, y in loader:
    loss = criterion(model(x), y)
    scaler.scale(loss).backward()
    norm = clip(model.parameters(), max_norm=cfg.max_norm)
    scaler.step(opt)
    scaler.update()
"""
    assert lines(source) == [9]


def test_scaler_attribute_in_a_method_fires() -> None:
    source = """\
import torch.nn as nn


class Loop:
    def step(self, loss):
        self.scaler.scale(loss).backward()
        nn.utils.clip_grad_value_(self.model.parameters(), self.clip)
        self.scaler.step(self.optimizer)
"""
    assert lines(source) == [7]


def test_unscale_after_the_clip_still_fires_without_a_fix() -> None:
    source = """\
import torch


def step(model, scaler, opt, loss):
    scaler.scale(loss).backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    scaler.unscale_(opt)
    scaler.step(opt)
"""
    found = lint_source(source, "train.py", rules=[ClipBeforeUnscale])
    assert [d.line for d in found] == [6]
    assert not found[0].fixable


@pytest.mark.parametrize(
    "source",
    [
        # unscale_ first, in a gradient-accumulation branch
        """\
import torch


def train(model, loader, opt, scaler, accum):
    for i, (x, y) in enumerate(loader):
        scaler.scale(model(x).mean() / accum).backward()
        if (i + 1) % accum == 0:
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            scaler.step(opt)
            scaler.update()
            opt.zero_grad()
""",
        # no GradScaler at all (bf16 autocast needs none)
        """\
import torch


def train(model, loader, opt):
    for x, y in loader:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(x).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
""",
        # accelerate and Lightning unscale for you
        """\
def train(accelerator, fabric, model, loss, opt):
    accelerator.backward(loss)
    accelerator.clip_grad_norm_(model.parameters(), 1.0)
    fabric.clip_gradients(model, opt, max_norm=1.0)
    opt.step()
""",
        # the scaler lives in another function than the clip
        """\
import torch


def backward(scaler, loss):
    scaler.scale(loss).backward()


def clip(model):
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
""",
    ],
)
def test_silent(source: str) -> None:
    assert lines(source) == []


def test_trigger_words() -> None:
    assert ClipBeforeUnscale.triggers == ("clip_grad",)
    assert (
        lint_source("import torch\nscaler = torch.amp.GradScaler()\n", rules=[ClipBeforeUnscale])
        == []
    )
