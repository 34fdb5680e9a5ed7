"""AL301/AL302 across modules: a helper in one file scrubs what a training loop in
another file hands it; checked the way ``attnlint check`` does (whole tree, or only the
changed file as pre-commit passes it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._index_repos import check, line_of, where, write_repo

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


@pytest.mark.parametrize("only_train", [False, True], ids=["tree", "changed-file"])
def test_scrubs_in_another_module_are_found_at_the_call(repo: Path, only_train: bool) -> None:
    paths = ["pkg/train.py"] if only_train else None
    found = check(repo, paths, codes=("AL301", "AL302"))
    expected = [(p, line_of(repo, p, text), code) for p, text, code in EXPECTED]
    assert sorted(where(found), key=lambda f: f[1]) == sorted(expected, key=lambda f: f[1])
    messages = {f.line: f.message for f in found}
    soft = messages[line_of(repo, "pkg/train.py", "ranks = soft_rank")]
    assert "soft_rank (pkg/losses.py:4)" in soft and "nan_to_num" in soft
    clamp = messages[line_of(repo, "pkg/train.py", "L.surrogate")]
    assert "surrogate (pkg/losses.py:9)" in clamp and "s.clamp(-50.0, 50.0)" in clamp


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
