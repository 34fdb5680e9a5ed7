"""The demo: train the reference DeepSetRank under the guard, healthy and collapsing.

The collapsing variant differs in one setting only: the learning rate, 0.1 instead of
3e-3 (the seed's first suspect, and what AL101 asks to make configurable). Within a few
steps the query/key projections grow until every attention row is one-hot; softmax
gradients vanish there, so it stays one-hot, and the guard's ``attention_entropy`` check
reports it at the SetAttention site. Measured over seeds 0-5, the collapse shows within
10 steps and the healthy run's normalised entropy stays above 0.3 (the bound is 0.1).
Model, data, clipping and seed are the same for both, so the difference in the reports is
the collapse alone.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from attnlint.demo.data import RankingData, make_lists
from attnlint.demo.listmle import listmle_loss
from attnlint.demo.model import DeepSetRank
from attnlint.guard import AttentionGuard, GuardConfig

if TYPE_CHECKING:
    from rich.console import Console


@dataclass(frozen=True)
class Variant:
    name: str
    temperature: float
    expect_violation: str | None  # the check the run must report; None = none at all
    learning_rate: float = 3e-3
    clip_norm: float = 5.0


VARIANTS = {
    "healthy": Variant("healthy", temperature=1.0, expect_violation=None),
    "collapse": Variant(
        "collapse", temperature=1.0, expect_violation="attention_entropy", learning_rate=0.1
    ),
}


def train(
    variant: Variant,
    log_path: Path,
    *,
    steps: int = 60,
    seed: int = 0,
    batch_size: int = 16,
    data: RankingData | None = None,
) -> list[float]:
    """Train under the guard, logging every step to ``log_path``. Returns the losses."""
    torch.manual_seed(seed)
    data = data if data is not None else make_lists(seed=seed)
    model = DeepSetRank(input_dim=data.input_dim, temperature=variant.temperature)
    # The seed's stat_dim bug (AL201): a model built for one width fed another.
    if model.input_dim != data.x.shape[-1]:
        raise ValueError(f"model expects {model.input_dim} features, data has {data.x.shape[-1]}")
    optimizer = torch.optim.Adam(model.parameters(), lr=variant.learning_rate)

    # A fresh log per demo run: an existing file would be appended to as a resumed run.
    log_path.unlink(missing_ok=True)
    # "log": record and keep going, so the report shows what happens after the collapse.
    config = GuardConfig(every=1, on_violation="log")
    guard = AttentionGuard(model, config=config, log_path=str(log_path))
    losses: list[float] = []
    clipped = 0
    batches = data.batches(batch_size, torch.Generator().manual_seed(seed))
    with _quiet_guard_log():
        try:
            for _ in range(steps):
                batch = next(batches)
                scores = guard(batch.x, batch.player_mask, batch.team_mask)
                guard.check_scores(scores)
                guard.check_relevance(batch.rel, mask=batch.team_mask)
                loss = listmle_loss(scores, batch.rel, batch.team_mask)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                guard.record_grad_norms()  # before clipping: what the clip is about to hide
                total = torch.nn.utils.clip_grad_norm_(
                    model.parameters(), max_norm=variant.clip_norm
                )
                clipped += int(total > variant.clip_norm)  # AL103: a clip nobody counts hides a lot
                optimizer.step()
                losses.append(float(loss.detach()))
                guard.step(loss=losses[-1])
        finally:
            guard.close()
    if clipped:
        print(f"{variant.name} run: gradients clipped on {clipped} of {steps} steps")
    return losses


@contextlib.contextmanager
def _quiet_guard_log() -> Iterator[None]:
    """Keep the guard's log lines off stderr during the demo: the report printed after each
    run lists every violation, grouped, and a log line per violation before it is noise."""
    guard_log = logging.getLogger("attnlint.guard")
    handler, propagate = logging.NullHandler(), guard_log.propagate
    guard_log.addHandler(handler)
    guard_log.propagate = False
    try:
        yield
    finally:
        guard_log.removeHandler(handler)
        guard_log.propagate = propagate


def run_demo(
    out: Path,
    *,
    steps: int = 60,
    seed: int = 0,
    variants: list[str] | None = None,
    plot: bool = True,
) -> int:
    """Run the variants, print each report and a verdict; 0 when each behaved as expected."""
    from attnlint.report.summary import make_console

    console = make_console()
    # The demo model is tiny: one thread is faster than several, and far faster when other
    # processes compete for the cores. Restored afterwards (tests call this in-process).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run(out, console, steps, seed, variants or list(VARIANTS), plot)
    finally:
        torch.set_num_threads(threads)


def _run(
    out: Path, console: Console, steps: int, seed: int, variants: list[str], plot: bool
) -> int:
    from attnlint.report.runlog import read_run_log
    from attnlint.report.summary import render, verdict

    status = 0
    verdicts: list[str] = []
    data = make_lists(seed=seed)
    for name in variants:
        variant = VARIANTS[name]
        log_path = out / f"{name}.jsonl"
        console.rule(f"{name} run (learning rate {variant.learning_rate:g})")
        start = time.perf_counter()
        train(variant, log_path, steps=steps, seed=seed, data=data)
        elapsed = time.perf_counter() - start
        log = read_run_log(log_path)
        render(log, console)
        found = {v.check for v in log.violations}
        expected = variant.expect_violation
        ok = not found if expected is None else expected in found
        if not ok:
            status = 1
        line = f"{verdict(log)} [{elapsed:.1f}s]"
        if not ok:
            want = f"expected {expected}" if expected else "expected no violations"
            line += f" (UNEXPECTED: {want})"
        verdicts.append(line)
        console.print(f"wrote {log_path}")
        if plot:
            from attnlint.report.plot import save_plot

            png = out / f"{name}.png"
            save_plot(log, png)
            console.print(f"wrote {png}")
    console.rule("verdict")
    for line in verdicts:
        console.print(line, highlight=False)
    return status
