"""AL103 across modules: a project helper that clips and returns the total norm, in one
module, and a caller in another that drops it.

The caller's file need not name the clip, nor say "clip" at all (``optimizer_step(model,
opt, ...)``): the finding is decided from the helper's summary, whatever the helper is
called.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from _index_repos import check, line_of, where, write_repo

from attnlint.lint.engine import analyse
from attnlint.lint.rules.al103 import UnloggedGradClip

UTILS = """\
    import torch


    def optimizer_step(model, optimizer, max_norm, scaler=None):
        \"\"\"Unscale, clip, step, zero: one place for the whole update.\"\"\"
        if scaler is not None:
            scaler.unscale_(optimizer)
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return norm.item()


    def log_step(history, loss):
        history.append(float(loss))
        return len(history)
    """

TRAIN = """\
    from utils import log_step, optimizer_step


    def train_epoch(model, loader, opt, cfg, scaler, history):
        for batch in loader:
            loss = model(batch)
            scaler.scale(loss).backward()
            optimizer_step(model, opt, cfg["optim"]["max_norm"], scaler)
            log_step(history, loss)
    """


def _repo(tmp_path: Path, train: str = TRAIN) -> Path:
    return write_repo(tmp_path, {"utils.py": UTILS, "train.py": train})


def test_a_dropped_norm_of_a_helper_named_for_the_step(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    assert "clip" not in (root / "train.py").read_text()
    found = check(root, codes=("AL103",))
    line = line_of(root, "train.py", "optimizer_step(model")
    assert where(found) == [("train.py", line, "AL103")]
    assert "in optimizer_step (utils.py:4), called here, is discarded" in found[0].message


def test_only_the_caller_checked(tmp_path: Path) -> None:
    # pre-commit passes the changed file only: the helper is summarised from its module.
    root = _repo(tmp_path)
    found = check(root, ["train.py"], codes=("AL103",))
    assert where(found) == [("train.py", 8, "AL103")]


def test_a_kept_norm_and_a_helper_that_returns_another_value_are_silent(tmp_path: Path) -> None:
    train = TRAIN.replace(
        "            optimizer_step(model, opt, cfg",
        "            norm = optimizer_step(model, opt, cfg",
    ).replace("            log_step(history, loss)", "            history.append(norm)")
    root = _repo(tmp_path, train)
    assert check(root, codes=("AL103",)) == []
    # ``log_step`` returns a count, not a norm: dropping it is no finding.
    root = _repo(
        tmp_path / "other",
        TRAIN.replace("            optimizer_step(", "            _ = optimizer_step("),
    )
    assert where(check(root, codes=("AL103",))) == [("train.py", 8, "AL103")]


def test_pending_findings_only_where_phase_2_could_find_a_norm() -> None:
    """A dropped result of a function this module defines is decided here, whatever its
    name: no pending finding when it returns neither a clip norm nor another call's
    result, nor for a name phase 2 could not resolve. One elsewhere (imported, a base
    class's method) leaves one where a norm is likely: in a scope that computes gradients,
    or when the helper is named for a step."""
    source = textwrap.dedent(
        """\
        from utils import finish_batch, optimizer_step
        from base import Base


        def reset(state):
            state.clear()


        def forward_step(model, opt):
            return optimizer_step(model, opt, 1.0)


        class Loop(Base):
            def _log(self):
                print(self)

            def run(self, model, opt):
                reset(self.state)
                self._log()
                AttributeError("not a helper")
                optimizer_step(model, opt, 1.0)
                forward_step(model, opt)
                finish_batch(model, opt)
                self.finish()

            def fit(self, model, opt, loss):
                loss.backward()
                finish_batch(model, opt)
                self.finish()
                self._log()
        """
    )
    found = analyse(source, "loop.py", rules=[UnloggedGradClip], resolve=False)
    pending = sorted((p.line, p.callee) for p in found.pending if p.code == "AL103")
    assert pending == [
        (21, "optimizer_step"),
        (22, "forward_step"),
        (28, "finish_batch"),
        (29, "self.finish"),
    ]
