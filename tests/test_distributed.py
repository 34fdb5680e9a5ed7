"""reduce_report across two real processes (gloo on CPU): same merged report on every rank."""

from __future__ import annotations

import json
import math
import multiprocessing as mp
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from attnlint.guard.distributed import is_distributed, is_writer, reduce_report
from attnlint.records import AttentionStats, BatchStats, StepReport, Violation

TIMEOUT_S = 60


def _init(rank: int, store: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)


def _rank_report(rank: int) -> StepReport:
    layers = {
        "enc.attn": AttentionStats(
            observed="recomputed",
            entropy=1.0 + rank,  # mean -> 1.5
            max_row_weight=0.2 + 0.5 * rank,  # max -> 0.7
            nan_rows=rank * 3,  # sum -> 3
            mass=1.0 if rank == 0 else None,  # present on one rank only -> 1.0
        )
    }
    if rank == 1:  # a site only rank 1 saw (e.g. a branch taken on its data)
        layers["fallback.attn"] = AttentionStats(observed="hook", max_col_sum=float("nan"))
    violations = []
    if rank == 1:
        violations.append(
            Violation(
                check="finite_scores",
                site="scorer",
                step=7,
                value=float("nan"),
                bound=None,
                message="scores are NaN",
            )
        )
    violations.append(
        Violation(
            check="relevance",
            site="batch",
            step=7,
            value=0.0,
            bound=2.0,
            message="constant relevance",
        )
    )
    return StepReport(
        step=7,
        loss=2.0 + 2.0 * rank,  # mean -> 3.0
        layers=layers,
        grad_norms={"total": 1.5, "encoder": 0.5 + rank},  # max -> 1.5, 1.5
        batch=BatchStats(
            list_count=1 + 2 * rank,  # 1 and 3 lists: sum 4, weights 1:3
            list_len_min=5.0 + rank,
            list_len_max=10.0 + rank,
            rel_mean=0.0 if rank == 0 else 4.0,  # weighted mean -> 3.0
            score_nonfinite=rank * 2,
            input_dim=21,
        ),
        violations=violations,
        diagnosis=[f"finding {rank}", "shared finding"],
    )


def _merge_worker(rank: int, store: str, out: str) -> None:
    _init(rank, store)
    try:
        merged = reduce_report(_rank_report(rank))
        quiet = reduce_report(StepReport(step=8, sampled=False, loss=1.0 + 2.0 * rank))
        cheap = StepReport(step=9, sampled=False)
        if rank == 1:  # a cheap check fired on one rank on an unsampled step
            cheap.violations.append(_rank_report(1).violations[0])
        cheap = reduce_report(cheap)
        info = {
            "writer": is_writer(),
            "distributed": is_distributed(),
            # gloo's MAX of a NaN is implementation-defined: the NaN flag rides the SUM tensor
            "nan_kept": math.isnan(merged.layers["fallback.attn"].max_col_sum or 0.0),
            "quiet_loss": quiet.loss,
            "cheap_checks": [v.check for v in cheap.violations],
        }
        Path(out, f"rank{rank}.json").write_text(
            json.dumps({"report": json.loads(merged.model_dump_json()), **info})
        )
    finally:
        dist.destroy_process_group()
    _exit_now()


def _exit_now() -> None:
    """A rank that finished its work exits without C++ static teardown: gloo's and DDP's
    background threads can abort the process there ("terminate called without an active
    exception", exit -6) after every result is written, which says nothing about the
    guard."""
    import os
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _run_two(target: Callable[[int, str, str], None], tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    store = str(tmp_path / "store")
    procs = [ctx.Process(target=target, args=(r, store, str(tmp_path))) for r in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(TIMEOUT_S)
    hung = [p for p in procs if p.is_alive()]
    for p in hung:
        p.kill()
        p.join()
    assert not hung, "a rank hung"
    assert [p.exitcode for p in procs] == [0, 0]


def test_not_distributed_is_identity_and_writer() -> None:
    report = _rank_report(0)
    assert not is_distributed() and is_writer()
    assert reduce_report(report) is report


def test_two_ranks_get_the_same_merged_report(tmp_path: Path) -> None:
    _run_two(_merge_worker, tmp_path)
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2))
    diff = {k for k in r0["report"] if r0["report"][k] != r1["report"][k]}
    assert not diff, {k: (r0["report"][k], r1["report"][k]) for k in diff}
    assert (r0["writer"], r1["writer"]) == (True, False)
    assert r0["distributed"] and r1["distributed"]

    merged = StepReport.model_validate(r0["report"])
    enc = merged.layers["enc.attn"]
    assert enc.entropy == pytest.approx(1.5)
    assert enc.max_row_weight == pytest.approx(0.7)
    assert enc.nan_rows == 3 and isinstance(enc.nan_rows, int)
    assert enc.mass == pytest.approx(1.0)
    # rank 1's extra site is kept; its NaN extreme stays visible (JSON null = NaN)
    assert merged.layers["fallback.attn"].observed == "hook"
    assert r0["nan_kept"] and r1["nan_kept"]
    assert merged.loss == pytest.approx(3.0)
    assert merged.grad_norms == {"total": 1.5, "encoder": 1.5}
    b = merged.batch
    assert b is not None
    assert (b.list_count, b.list_len_min, b.list_len_max) == (4, 5.0, 11.0)
    assert b.rel_mean == pytest.approx(3.0)
    assert b.score_nonfinite == 2 and b.input_dim == 21

    # rank 1's violation reaches rank 0; the shared one is merged, tagged with both ranks
    by_check = {v.check: v for v in merged.violations}
    assert len(merged.violations) == 2
    assert by_check["finite_scores"].message == "[rank 1] scores are NaN"
    assert by_check["finite_scores"].rank == 1
    assert by_check["relevance"].ranks == [0, 1]
    assert by_check["relevance"].message.startswith("[ranks 0, 1]")
    assert merged.diagnosis == ["finding 0", "shared finding", "finding 1"]

    # unsampled steps: the loss is still averaged; a violation on one rank reaches both
    assert r0["quiet_loss"] == r1["quiet_loss"] == pytest.approx(2.0)
    assert r0["cheap_checks"] == r1["cheap_checks"] == ["finite_scores"]


def _guarded_worker(rank: int, store: str, out: str) -> None:
    from attnlint.guard import AttentionGuard, GuardConfig, GuardError

    _init(rank, store)
    torch.manual_seed(0)  # same initial weights on both ranks
    model = _AttnModel()
    guard = AttentionGuard(
        model,
        config=GuardConfig(every=1, on_violation="raise"),
        log_path=str(Path(out, f"run{rank}.jsonl")),
    )
    ddp = DistributedDataParallel(model)
    opt = torch.optim.SGD(ddp.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(rank)  # different data per rank
    result: dict[str, object] = {"raised_at": None, "checks": [], "messages": []}
    try:
        for step in range(6):
            x = torch.randn(4, 6, 4, generator=gen)
            if rank == 1 and step == 3:
                x[0] = float("nan")  # only rank 1 sees a pathology
            loss = ddp(x).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            guard.record_grad_norms()
            opt.step()
            try:
                guard.step(loss=loss)
            except GuardError as exc:
                result["raised_at"] = step
                result["checks"] = sorted({v.check for v in exc.violations})
                result["messages"] = [v.message for v in exc.violations]
                break
    finally:
        guard.close()
        Path(out, f"guarded{rank}.json").write_text(json.dumps(result))
        dist.destroy_process_group()
    _exit_now()


class _AttnModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Linear(4, 16)
        self.attention = nn.MultiheadAttention(16, 2, batch_first=True)
        self.scorer = nn.Linear(16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.encoder(x)
        h, _ = self.attention(z, z, z, need_weights=False)
        return self.scorer(h).squeeze(-1)


def test_violation_on_one_rank_raises_on_both_and_only_rank0_writes(tmp_path: Path) -> None:
    import attnlint.guard.core  # noqa: F401

    _run_two(_guarded_worker, tmp_path)
    r0, r1 = (json.loads((tmp_path / f"guarded{r}.json").read_text()) for r in range(2))
    assert r0["raised_at"] == r1["raised_at"] == 3
    assert "finite_scores" in r0["checks"] and r0["checks"] == r1["checks"]
    assert any(m.startswith("[rank 1]") for m in r0["messages"])
    assert (tmp_path / "run0.jsonl").exists() and not (tmp_path / "run1.jsonl").exists()
    assert len((tmp_path / "run0.jsonl").read_text().splitlines()) >= 4
