"""AL301 and AL302 stay silent where no gradient is computed: a ``@torch.no_grad()``
metric returned beside the loss (fairseq's ``loss, sample_size, logging_output``), an
evaluation block under ``torch.inference_mode()``; the same code with gradients fires."""

from __future__ import annotations

from pathlib import Path

import pytest
from _index_repos import check, where, write_repo

from attnlint.lint.engine import lint_source
from attnlint.lint.rules.al301 import NanMasking
from attnlint.lint.rules.al302 import ScoreClamp

CRITERION = """\
import torch
import torch.nn.functional as F


{decorator}
def ndcg_at_k(scores, labels, k=10):
    scores = torch.nan_to_num(scores, nan=-1e4)
    top = scores.clamp(-50, 50).topk(k, dim=-1).indices
    return labels.gather(-1, top).float().mean()


class RankingCriterion:
    def forward(self, model, sample):
        scores = model(sample["x"])
        loss = F.cross_entropy(scores, sample["y"])
        logging_output = {{"loss": loss.data, "ndcg": ndcg_at_k(scores, sample["y"]).item()}}
        return loss, 1, logging_output
"""


@pytest.mark.parametrize(
    ("decorator", "fires"),
    [("@torch.no_grad()", False), ("@torch.inference_mode()", False), ("", True)],
)
def test_a_metric_without_gradient_beside_the_loss(
    tmp_path: Path, decorator: str, fires: bool
) -> None:
    write_repo(tmp_path, {"criterion.py": CRITERION.format(decorator=decorator)})
    found = where(check(tmp_path, codes=("AL301", "AL302")))
    assert bool(found) is fires, found


def test_an_evaluation_block_without_gradient() -> None:
    source = """\
import torch


def run(model, loader, opt):
    for batch in loader:
        out = model(batch["x"])
        with torch.no_grad():
            shown = torch.nan_to_num(out, nan=0.0).clamp(-10, 10)
            print(shown.mean())
        loss = torch.nan_to_num(out).square().mean()
        loss.backward()
        opt.step()
"""
    found = lint_source(source, "train.py", [NanMasking, ScoreClamp])
    assert [(d.line, d.code) for d in found] == [(10, "AL301")]


TRAINER = """\
import torch


class Trainer:
    def _masked_mae(self, preds, target):
        preds = torch.where(torch.isnan(preds), torch.zeros_like(preds), preds)
        return (preds - target).abs().mean()

    def _update(self, loss):
        self.opt.zero_grad()
        {backward}
        self.opt.step()

    def _step(self, batch):
        x, y = batch
        preds = self.model(x)
        loss = self._masked_mae(preds, y)
        self._update(loss)
        return loss.item()
"""


@pytest.mark.parametrize(
    ("backward", "fires"),
    [
        ("loss.backward()", True),
        ("self.scaler.scale(loss).backward()", True),
        ("print(loss)", False),  # nothing differentiates it: no loss is built
    ],
)
def test_a_loss_handed_to_an_update_helper_that_differentiates_it(
    tmp_path: Path, backward: str, fires: bool
) -> None:
    write_repo(tmp_path, {"trainer.py": TRAINER.format(backward=backward)})
    found = where(check(tmp_path, codes=("AL301",)))
    assert found == ([("trainer.py", 6, "AL301")] if fires else []), found
