"""AL301/AL302 one call away: a helper scrubs what a training loop hands it, in the same
module or in another checked one (found at the scrub) or in a module that is not checked
(found at the call: pre-commit passes only the changed file); and the library-code shapes
that must stay silent."""

from __future__ import annotations

from pathlib import Path

import pytest

from attnlint.lint.engine import lint_source
from attnlint.lint.rule import Rule
from attnlint.lint.rules.al301 import NanMasking
from attnlint.lint.rules.al302 import ScoreClamp
from tests._index_repos import check, line_of, where, write_repo


def lines(source: str, rule: type[Rule]) -> list[int]:
    return [d.line for d in lint_source(source, "train.py", rules=[rule])]


LOSSES = """\
import torch


def soft_rank(scores, tau=0.1):
    scores = torch.nan_to_num(scores, nan=0.0)
    return torch.sigmoid((scores[:, :, None] - scores[:, None, :]) / tau).sum(-1)


def surrogate(s, rel):
    s = s.clamp(-50.0, 50.0)
    return -(s - s.logcumsumexp(-1)).sum()


def objective(pred, rel):
    loss = ((pred - rel) ** 2).mean()
    return torch.nan_to_num(loss, nan=0.0)


def features(x):
    return torch.nan_to_num(x, nan=0.0)
"""

TRAIN = """\
from pkg import losses as L
from pkg.losses import features, objective, soft_rank


def train_step(model, x, rel, optimizer):
    scores = model(features(x))
    ranks = soft_rank(scores)
    loss = ((ranks - rel) ** 2).mean() + L.surrogate(scores, rel)
    loss.backward()
    optimizer.step()


def train_step2(model, x, rel):
    loss = objective(model(x), rel)
    loss.backward()


def evaluate(model, x):
    return soft_rank(model(x)).mean().item()
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return write_repo(
        tmp_path, {"pkg/__init__.py": "", "pkg/losses.py": LOSSES, "pkg/train.py": TRAIN}
    )


EXPECTED = [
    ("pkg/train.py", "ranks = soft_rank(scores)", "AL301"),
    ("pkg/train.py", "L.surrogate(scores, rel)", "AL302"),
    ("pkg/train.py", "loss = objective(model(x), rel)", "AL301"),
]

# The whole tree checked: the helper's file is among the checked ones, so the findings
# are at the scrubs, where the fix is.
EXPECTED_TREE = [
    ("pkg/losses.py", "scores = torch.nan_to_num(scores", "AL301"),
    ("pkg/losses.py", "s = s.clamp(-50.0", "AL302"),
    ("pkg/losses.py", "return torch.nan_to_num(loss", "AL301"),
]


def test_scrubs_in_another_checked_module_are_found_at_the_scrub(repo: Path) -> None:
    found = check(repo, codes=("AL301", "AL302"))
    expected = [(p, line_of(repo, p, text), code) for p, text, code in EXPECTED_TREE]
    assert sorted(where(found), key=lambda f: f[1]) == sorted(expected, key=lambda f: f[1])
    messages = {f.line: f.message for f in found}
    soft = messages[line_of(repo, "pkg/losses.py", "scores = torch.nan_to_num(scores")]
    caller = line_of(repo, "pkg/train.py", "ranks = soft_rank")
    assert f"train_step (pkg/train.py:{caller}) passes to soft_rank" in soft
    returned = messages[line_of(repo, "pkg/losses.py", "return torch.nan_to_num(loss")]
    assert "the result of objective" in returned and "train_step2" in returned


def test_scrubs_in_a_module_not_checked_are_found_at_the_call(repo: Path) -> None:
    """Pre-commit passes only the changed file: the helper's file is not checked, so the
    call is the only place a finding can go."""
    found = check(repo, ["pkg/train.py"], codes=("AL301", "AL302"))
    expected = [(p, line_of(repo, p, text), code) for p, text, code in EXPECTED]
    assert sorted(where(found), key=lambda f: f[1]) == sorted(expected, key=lambda f: f[1])
    messages = {f.line: f.message for f in found}
    soft = messages[line_of(repo, "pkg/train.py", "ranks = soft_rank")]
    assert "soft_rank (pkg/losses.py:4)" in soft and "nan_to_num" in soft
    clamp = messages[line_of(repo, "pkg/train.py", "L.surrogate")]
    assert "surrogate (pkg/losses.py:9)" in clamp and "s.clamp(-50.0, 50.0)" in clamp


def test_noqa_on_the_scrub_silences_both_places(repo: Path) -> None:
    losses = repo / "pkg/losses.py"
    text = losses.read_text().replace(
        "scores = torch.nan_to_num(scores, nan=0.0)",
        "scores = torch.nan_to_num(scores, nan=0.0)  # noqa: AL301",
    )
    losses.write_text(text)
    for paths in (None, ["pkg/train.py"]):
        found = check(repo, paths, codes=("AL301",))
        assert all("soft_rank" not in f.message for f in found), found


def test_the_helper_alone_is_silent(repo: Path) -> None:
    """Without a caller that builds a loss from it, a helper that scrubs is data handling
    as far as the linter can tell."""
    assert check(repo, ["pkg/losses.py"], codes=("AL301", "AL302")) == []


def test_same_module_helper_points_at_the_scrub(tmp_path: Path) -> None:
    source = LOSSES + "\n\n" + TRAIN.split("\n", 2)[2].replace("L.surrogate", "surrogate")
    write_repo(tmp_path, {"train.py": source})
    found = check(tmp_path, codes=("AL301", "AL302"))
    assert where(found) == [
        ("train.py", line_of(tmp_path, "train.py", "scores = torch.nan_to_num"), "AL301"),
        ("train.py", line_of(tmp_path, "train.py", "s = s.clamp"), "AL302"),
        ("train.py", line_of(tmp_path, "train.py", "return torch.nan_to_num(loss"), "AL301"),
    ]
    assert "train_step passes to soft_rank" in found[0].message
    assert "train_step2 uses it as the loss" in found[2].message


# -- one call away (helpers in the same module) and library code ---------------------


def test_scrubs_inside_helpers_are_found_at_the_scrub() -> None:
    source = """\
import torch


def soft_rank(scores, tau):
    scores = torch.nan_to_num(scores, nan=0.0)
    return torch.sigmoid((scores[:, :, None] - scores[:, None, :]) / tau).sum(-1)


def surrogate(s, rel):
    s = s.clamp(-50.0, 50.0)
    return -(s - s.logcumsumexp(-1)).sum()


def objective(pred, rel):
    loss = ((pred - rel) ** 2).mean()
    return torch.nan_to_num(loss, nan=0.0)


class Trainer:
    def rank(self, scores):
        return soft_rank(scores, self.tau)

    def step(self, model, x, rel):
        out = model(x)
        loss = ((self.rank(out) - rel) ** 2).mean() + surrogate(out, rel)
        loss = loss + objective(out, rel)
        loss.backward()
"""
    assert lines(source, NanMasking) == [5, 16]
    assert lines(source, ScoreClamp) == [10]


@pytest.mark.parametrize(
    "source",
    [
        # NumPy result arrays: a NaN test with no loss anywhere (pandas, metrics code)
        """\
import numpy as np


def nansum(out):
    total = 0.0
    for i in range(len(out)):
        if np.isnan(out[i]):
            continue
        total += out[i]
    return total


def fill(values, fill_value):
    out = np.where(np.isnan(values), fill_value, values)
    out[np.isnan(out)] = 0
    return out
""",
        # a helper that cleans what it is given, called with inputs and for metrics only
        """\
import torch


def clean(x):
    return torch.nan_to_num(x, nan=0.0)


def train_step(model, batch, criterion):
    scores = model(clean(batch["x"]))
    loss = criterion(scores, batch["y"])
    loss.backward()


@torch.no_grad()
def report(model, x):
    return clean(model(x)).mean().item()
""",
        # a helper that cleans its result, used for logging
        """\
import torch


def safe_mean(logits):
    return torch.nan_to_num(logits.mean(), nan=0.0)


def train_step(model, x, y, criterion, log):
    logits = model(x)
    loss = criterion(logits, y)
    log("logit mean", safe_mean(logits))
    loss.backward()
""",
    ],
)
def test_al301_silent_on_library_and_helper_shapes(source: str) -> None:
    assert lines(source, NanMasking) == []


def test_al302_silent_on_helper_domains_and_probabilities() -> None:
    source = """\
import torch


def angle(cos):
    return torch.acos(cos.clamp(-1.0, 1.0))


def bce(p, target, eps):
    p = p.clamp(eps, 1 - eps)
    return -(target * p.log()).mean()


def clip_targets(rel):
    return rel.clamp(0, 30)


def train_step(model, x, rel):
    scores = model(x)
    loss = bce(torch.sigmoid(scores), rel, 1e-6) + angle(scores.tanh()).mean()
    loss = loss + ((scores - clip_targets(rel)) ** 2).mean()
    loss.backward()
"""
    assert lines(source, ScoreClamp) == []


def test_lightning_training_step_returns_the_loss() -> None:
    source = """\
import torch
import lightning as L


class Ranker(L.LightningModule):
    def training_step(self, batch, batch_idx):
        scores = self(batch["x"])
        loss = ((scores - batch["y"]) ** 2).mean()
        return torch.nan_to_num(loss, nan=0.0)

    def validation_step(self, batch, batch_idx):
        loss = ((self(batch["x"]) - batch["y"]) ** 2).mean()
        return torch.nan_to_num(loss, nan=0.0)
"""
    assert lines(source, NanMasking) == [9]


def test_al402_fill_in_another_module_is_found_at_the_call(tmp_path: Path) -> None:
    util = 'import torch\n\n\ndef mask_logits(s, m):\n    return s.masked_fill(~m, float("-inf"))\n'
    model = (
        "from pkg.util import mask_logits\n\n\n"
        "def attend(q, k, v, mask):\n"
        "    s = mask_logits(q @ k.mT, mask)\n"
        "    return s.softmax(-1) @ v\n"
    )
    write_repo(tmp_path, {"pkg/__init__.py": "", "pkg/util.py": util, "pkg/model.py": model})
    for paths in (None, ["pkg/model.py"]):
        found = check(tmp_path, paths, codes=("AL402",))
        assert where(found) == [("pkg/model.py", 5, "AL402")]
        assert "mask_logits (pkg/util.py:4)" in found[0].message


def test_al402_the_mask_of_a_fill_helper_may_have_any_name(tmp_path: Path) -> None:
    """``torch.where(inside, logits, -torch.inf)`` in a helper: the caller's mask is named
    for what it holds (points inside a radius), not "mask"; the message names the fill
    the helper really uses. A call of one argument hands no mask."""
    kernels = (
        "import torch\n\n\n"
        "def neighbor_logits(logits, inside):\n"
        "    return torch.where(inside, logits, -torch.inf)\n"
    )
    model = (
        "import torch.nn.functional as F\n\n"
        "from pkg.kernels import neighbor_logits\n\n\n"
        "def gather(logits, inside, v):\n"
        "    w = F.softmax(neighbor_logits(logits, inside), dim=-1)\n"
        "    return (w.unsqueeze(-1) * v).sum(2)\n"
    )
    write_repo(tmp_path, {"pkg/__init__.py": "", "pkg/kernels.py": kernels, "pkg/model.py": model})
    found = check(tmp_path, ["pkg/model.py"], codes=("AL402",))
    assert where(found) == [("pkg/model.py", 7, "AL402")]
    assert "`torch.where(..., -inf)`" in found[0].message


def test_a_helper_that_hands_the_scores_on_in_its_module_is_found_at_the_scrub(
    tmp_path: Path,
) -> None:
    """``objective`` passes the scores, unchanged, to ``_surrogate`` of the same module,
    which clamps them: the finding is at that clamp (once), naming the caller."""
    losses = """\
import torch


def _surrogate(s, y):
    s = s.clamp(-50.0, 50.0)
    return ((s - y) ** 2).mean()


def objective(scores, y):
    return _surrogate(scores, y)
"""
    train = """\
from pkg.losses import objective


def step(model, x, y, opt):
    scores = model(x)
    loss = objective(scores, y)
    loss.backward()
    opt.step()
"""
    write_repo(tmp_path, {"pkg/__init__.py": "", "pkg/losses.py": losses, "pkg/train.py": train})
    found = check(tmp_path, codes=("AL302",))
    assert where(found) == [("pkg/losses.py", 5, "AL302")]
    assert "step (pkg/train.py:6) passes to objective" in found[0].message
    alone = check(tmp_path, ["pkg/train.py"], codes=("AL302",))
    assert where(alone) == [("pkg/train.py", 6, "AL302")]
