"""AL301 nan-masking, AL302 score-clamp, AL303 silent-nonfinite-skip: values followed
through assignments, and the realistic negatives each rule must leave alone."""

from __future__ import annotations

import pytest

from attnlint.lint.engine import lint_source
from attnlint.lint.rule import Rule
from attnlint.lint.rules.al301 import NanMasking
from attnlint.lint.rules.al302 import ScoreClamp
from attnlint.lint.rules.al303 import SilentNonfiniteSkip


def lines(source: str, rule: type[Rule]) -> list[int]:
    return [d.line for d in lint_source(source, "train.py", rules=[rule])]


# -- AL301 ---------------------------------------------------------------------------


def test_al301_followed_through_three_assignments() -> None:
    source = """\
import torch


def train_epoch(model, loader, optimizer, listmle):
    for batch in loader:
        out = model(batch["x"], batch["mask"])
        raw = out.squeeze(-1)
        s = raw.float()
        s = s.nan_to_num(nan=0.0, posinf=50.0, neginf=-50.0)
        tmp = s * batch["mask"]
        loss = listmle(tmp, batch["rel"])
        loss.backward()
"""
    assert lines(source, NanMasking) == [9]


def test_al301_inline_in_the_loss_call_and_on_the_loss() -> None:
    source = """\
import torch
import torch.nn.functional as F


def step(net, x, y):
    loss = F.cross_entropy(torch.nan_to_num(net.forward(x)), y)
    loss.nan_to_num_(0.0)
    loss.backward()
"""
    assert lines(source, NanMasking) == [6, 7]


def test_al301_in_a_loss_module() -> None:
    source = """\
import torch
import torch.nn as nn


class ListMLELoss(nn.Module):
    def forward(self, scores, rel):
        scores = torch.where(~torch.isfinite(scores), torch.zeros_like(scores), scores)
        order = rel.argsort(descending=True)
        return -scores.gather(1, order).sum()
"""
    assert lines(source, NanMasking) == [7]


@pytest.mark.parametrize(
    "source",
    [
        # data loading: inputs cleaned before the model
        """\
import torch


def collate(batch):
    feats = torch.stack([b["stats"] for b in batch]).nan_to_num(0.0)
    return feats


def train(model, loader, criterion):
    for batch in loader:
        x = batch["player_stats"].nan_to_num()
        x[torch.isnan(x)] = 0.0
        loss = criterion(model(x), batch["y"])
        loss.backward()
""",
        # logging / metrics: scores cleaned for a histogram, never reach the loss
        """\
import torch


def train(model, x, y, criterion, writer, step):
    scores = model(x)
    loss = criterion(scores, y)
    writer.add_histogram("scores", torch.nan_to_num(scores.detach()), step)
    shown = scores.detach().nan_to_num()
    print(shown.mean())
    loss.backward()
""",
        # probabilities cleaned for display
        """\
def predict(model, x):
    probs = model(x).softmax(-1).nan_to_num()
    return probs.argmax(-1)
""",
    ],
)
def test_al301_silent(source: str) -> None:
    assert lines(source, NanMasking) == []


# -- AL302 ---------------------------------------------------------------------------


def test_al302_seed_listmle_and_inline_clip() -> None:
    source = """\
import torch


def listmle(score, rel, mask):
    s = torch.clamp(score, -50.0, 50.0)
    s = s - s.max(dim=-1, keepdim=True).values
    return -(s - s.logcumsumexp(-1)).sum()


def step(model, x, y, criterion):
    logits = model(x)
    loss = criterion(logits.clip(max=20.0), y)
    loss.backward()
"""
    assert lines(source, ScoreClamp) == [5, 12]


@pytest.mark.parametrize(
    "source",
    [
        # clamping probabilities for a log, not scores
        """\
import torch


def nll(model, x, y):
    probs = torch.sigmoid(model(x))
    p = torch.clamp(probs, 1e-7, 1 - 1e-7)
    loss = -(y * p.log() + (1 - y) * (1 - p).log()).mean()
    eps_log = model(x).softmax(-1).clamp(min=1e-8).log()
    loss = loss + eps_log.mean()
    loss.backward()
""",
        # a loss on probabilities that happen to be called pred
        """\
def bce_loss(pred, target, eps=1e-7):
    pred = pred.clamp(eps, 1.0 - eps)
    return -(target * pred.log() + (1 - target) * (1 - pred).log()).mean()


def dice_loss(pred, target):
    pred = pred.clip(0.0, 1.0)
    return 1 - (2 * (pred * target).sum()) / (pred.sum() + target.sum())
""",
        # inputs and targets
        """\
def step(model, x, rel, criterion):
    x = x.clamp(-5.0, 5.0)
    rel = rel.clamp(0, 30)
    loss = criterion(model(x), rel)
    loss.backward()
""",
        # clamped logits that only go to a metric
        """\
def evaluate(model, x):
    logits = model(x).clamp(-10, 10)
    return logits.argmax(-1)
""",
    ],
)
def test_al302_silent(source: str) -> None:
    assert lines(source, ScoreClamp) == []


# -- AL303 ---------------------------------------------------------------------------


def test_al303_positives() -> None:
    source = """\
import math
import torch


def train(model, loader, opt, criterion):
    step = 0
    while step < 100:
        for x, y in loader:
            loss = criterion(model(x), y)
            if loss != loss:
                continue
            if torch.isnan(loss) or torch.isinf(loss):
                opt.zero_grad(set_to_none=True)
                continue
            if not math.isfinite(loss.item()):
                return model
            loss.backward()
            opt.step()
            step += 1
"""
    assert lines(source, SilentNonfiniteSkip) == [10, 12, 15]


@pytest.mark.parametrize(
    "source",
    [
        # a logged skip
        """\
import logging
import torch

log = logging.getLogger(__name__)


def train(model, loader, opt, criterion):
    for i, (x, y) in enumerate(loader):
        loss = criterion(model(x), y)
        if not torch.isfinite(loss):
            log.warning("batch %d: loss is %s, skipped", i, loss.item())
            continue
        loss.backward()
""",
        # a counted skip, a warning, a raise
        """\
import warnings
import torch


class Loop:
    def run(self, loader):
        for x, y in loader:
            loss = self.loss(x, y)
            if torch.isnan(loss).any():
                self.n_skipped += 1
                continue
            if torch.isinf(loss):
                warnings.warn("inf loss")
                continue
            if not torch.isfinite(loss):
                raise FloatingPointError("non-finite loss")
            loss.backward()
""",
        # not in a loop, and not a skip
        """\
import torch


def check(loss):
    if not torch.isfinite(loss):
        return False
    return True
""",
    ],
)
def test_al303_silent(source: str) -> None:
    assert lines(source, SilentNonfiniteSkip) == []


# A grouped-reduction kernel (the shape of pandas' numba kernels): "output" is a result
# array and nothing in the module trains.
_RESULT_ARRAY_KERNEL = """\
import numpy as np


def grouped_max(values, labels, ngroups, skipna=True):
    nobs = np.zeros(ngroups, dtype=np.int64)
    output = np.empty(ngroups, dtype=values.dtype)
    for i in range(len(labels)):
        lab = labels[i]
        if lab < 0 or (not skipna and nobs[lab] >= 1 and np.isnan(output[lab])):
            continue
        nobs[lab] += 1
    return output
"""


def test_al303_result_array_outside_training_is_silent() -> None:
    assert lines(_RESULT_ARRAY_KERNEL, SilentNonfiniteSkip) == []


def test_al303_scores_in_a_training_module_still_fire() -> None:
    # The same skip on the model's outputs, in a module that computes a loss, is a
    # silent skip of a batch.
    source = """\
import torch


def train(model, loader, opt, criterion):
    for x, y in loader:
        output = model(x)
        if torch.isnan(output).any():
            continue
        loss = criterion(output, y)
        loss.backward()
        opt.step()
"""
    assert lines(source, SilentNonfiniteSkip) == [7]


@pytest.mark.parametrize(
    ("rule", "source"),
    [
        (NanMasking, "import torch\nx = torch.zeros(3)\n"),
        (ScoreClamp, "scores = model(x)\nerr = criterion(scores, y)\n"),
        (SilentNonfiniteSkip, "for b in data:\n    if b is None:\n        continue\n"),
    ],
)
def test_files_without_triggers_are_not_parsed(rule: type[Rule], source: str) -> None:
    assert not any(t in source for t in rule.triggers)
    assert lint_source(source + "def broken(:\n", rules=[rule]) == []


SEED = """\
import torch
import torch.nn as nn
import torch.nn.functional as F


class SetAttention(nn.Module):
    def forward(self, z, mask):
        q = self.query(z.mean(1, keepdim=True))
        logits = q @ z.transpose(1, 2)
        logits = logits.masked_fill(~mask[:, None, :], float("-inf"))
        w = F.softmax(logits, dim=-1)
        w = torch.nan_to_num(w, nan=1.0 / z.size(1))
        return (w @ z).squeeze(1)


def listmle_loss(scores, rel, mask):
    scores = scores.clamp(-50.0, 50.0)
    scores = torch.nan_to_num(scores, nan=0.0)
    order = rel.masked_fill(~mask, float("-inf")).argsort(dim=-1, descending=True)
    s = scores.gather(-1, order)
    return -(s - s.flip(-1).logcumsumexp(-1).flip(-1)).sum(-1).mean()


def train_epoch(model, batches, optimizer, max_norm):
    for batch in batches:
        score = model(batch["player_stats"], batch["mask"])
        score = torch.nan_to_num(score)
        loss = listmle_loss(score, batch["rel"], batch["mask"])
        if not torch.isfinite(loss):
            continue
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        optimizer.step()
"""


def test_seed_training_code() -> None:
    """The seed's model, loss and loop: the nan_to_num on scores (twice), the [-50, 50]
    clamp and the silent skip are found; the attention (unscaled, but with a NaN guard
    after its -inf softmax) is left to AL401 alone."""
    from attnlint.lint.rules import all_rules

    rules = [all_rules()[code] for code in ("AL104", "AL301", "AL302", "AL303", "AL401", "AL402")]
    found = {(d.line, d.code) for d in lint_source(SEED, "train_model_a.py", rules=rules)}
    assert found == {
        (11, "AL401"),
        (17, "AL302"),
        (18, "AL301"),
        (27, "AL301"),
        (29, "AL303"),
    }


def test_the_loss_rebound_from_its_own_scrub_is_no_helper_call() -> None:
    """``loss = loss.nan_to_num(0.0)`` / ``loss = loss.clamp(max=10.0)``: the method forms
    of the rules' own calls, rebinding the loss, were once taken for calls of a project
    helper (whose callers decide) and never judged."""
    source = """\
import torch.nn.functional as F


def train(model, loader, opt, margin=1.0):
    for x, y in loader:
        s_pos, s_neg = model(x)
        loss = F.mse_loss(s_pos, y)
        loss = loss.nan_to_num(0.0)
        (loss / 4).backward()
        hinge = (margin - s_pos + s_neg).clamp(min=0).mean()
        hinge.backward()
        capped = F.mse_loss(s_neg, y)
        capped = capped.clamp(max=10.0)
        capped.backward()
        opt.step()
"""
    assert lines(source, NanMasking) == [8]
    assert lines(source, ScoreClamp) == [13]  # the hinge's clamp at 0 is the loss itself
