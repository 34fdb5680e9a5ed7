"""Cost of attnlint.guard.distributed.reduce_report: two gloo ranks on CPU.

    python bench/distributed_reduce.py [--sites 4 24] [--calls 200]

Prints the median time per call on a sampled step (full merge) and on an unsampled step
(the four-number fast path). Figures, not assertions: this is not a test.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch.distributed as dist

from attnlint.guard.distributed import reduce_report
from attnlint.records import AttentionStats, BatchStats, StepReport


def sampled_report(rank: int, sites: int) -> StepReport:
    skip = {"observed", "nan_rows"}
    fields = {k: 0.5 + rank for k in AttentionStats.model_fields if k not in skip}
    layers = {
        f"layers.{i}.self_attn": AttentionStats(observed="recomputed", nan_rows=0, **fields)
        for i in range(sites)
    }
    return StepReport(
        step=1,
        loss=1.0,
        layers=layers,
        grad_norms={"total": 1.0, "encoder": 0.5, "scorer": 0.5},
        batch=BatchStats(list_count=8, list_len_min=3, list_len_max=15, rel_mean=1.0),
    )


def _median_ms(report: StepReport, calls: int) -> float:
    for _ in range(calls // 10):
        reduce_report(report)
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        reduce_report(report)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def worker(rank: int, store: str, sites: int, calls: int, queue: Any) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    full = _median_ms(sampled_report(rank, sites), calls)
    quiet = _median_ms(StepReport(step=2, sampled=False, loss=1.0), calls)
    if rank == 0:
        queue.put((full, quiet))
    dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, nargs="+", default=[4, 24])
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    for sites in args.sites:
        with tempfile.TemporaryDirectory() as tmp:
            queue = ctx.Queue()
            store = str(Path(tmp) / "store")
            procs = [
                ctx.Process(target=worker, args=(r, store, sites, args.calls, queue))
                for r in range(2)
            ]
            for p in procs:
                p.start()
            full, quiet = queue.get()
            for p in procs:
                p.join()
        print(f"{sites:3d} sites: sampled step {full:.2f} ms, unsampled step {quiet:.3f} ms")


if __name__ == "__main__":
    main()
