"""Cost of the guard's sampled-step statistics, per function and per model, in time and ops.

The four models of ``bench/guard_overhead.py`` run one sampled step under the guard while
every statistics function (and the probability recomputation) is recorded with its real
arguments. Each recorded call is then replayed alone: the best time of ``--repeat`` calls
and the number of aten ops it dispatches (a ``TorchDispatchMode`` counter). The per-model
line is the sum over the calls of one sampled step.

    python bench/guard_stats.py [--models all] [--repeat 200] [--threads 1] [--detail]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

sys.path.insert(0, str(Path(__file__).resolve().parent))

import guard_overhead  # noqa: E402

from attnlint.guard import batchstats, gradnorms, recompute, stats  # noqa: E402

# (module, function name) pairs that a sampled step calls and that this bench times
TIMED: tuple[tuple[Any, str], ...] = (
    (stats, "attention_stats"),
    (stats, "relative_variance"),
    (stats, "position_variance"),
    (stats, "residual_ratio"),
    (stats, "nonfinite"),
    (batchstats, "score_stats"),
    (batchstats, "relevance_stats"),
    (recompute, "mha"),
    (recompute, "sdpa"),
    (recompute, "softmax_site"),
)


@dataclass
class Call:
    name: str
    fn: Callable[..., Any]
    args: tuple
    kwargs: dict


class OpCounter(TorchDispatchMode):
    """Counts the aten ops dispatched inside it, by name."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        self.ops[func.overloadpacket.__name__] += 1
        return func(*args, **(kwargs or {}))


def _frozen(x: Any) -> Any:
    """A detached copy of the tensors in an argument (a model tensor changes afterwards)."""
    if isinstance(x, torch.Tensor):
        return x.detach().clone()
    if isinstance(x, tuple):
        return tuple(_frozen(v) for v in x)
    if isinstance(x, list):
        return [_frozen(v) for v in x]
    return x


@contextlib.contextmanager
def recording(calls: list[Call]) -> Iterator[None]:
    """Records every call of the TIMED functions (and the gradient norms) made inside it."""
    saved: list[tuple[Any, str, Any]] = []
    active = [True]

    def wrap(mod: Any, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def inner(*args: Any, **kwargs: Any) -> Any:
            if not active[0]:
                return fn(*args, **kwargs)
            active[0] = False  # calls nested inside a timed function are part of it
            try:
                calls.append(Call(f"{mod.__name__.rsplit('.', 1)[-1]}.{name}", fn,
                                  _frozen(args), _frozen(kwargs)))
                return fn(*args, **kwargs)
            finally:
                active[0] = True

        return inner

    for mod, name in TIMED:
        fn = getattr(mod, name)
        saved.append((mod, name, fn))
        setattr(mod, name, wrap(mod, name, fn))
    norms = gradnorms.GradGroups.norms
    saved.append((gradnorms.GradGroups, "norms", norms))

    def grad_norms(self: gradnorms.GradGroups) -> Any:
        calls.append(Call("gradnorms.norms", norms, (self,), {}))
        return norms(self)

    gradnorms.GradGroups.norms = grad_norms  # type: ignore[method-assign]
    try:
        yield
    finally:
        for mod, name, fn in saved:
            setattr(mod, name, fn)


def sampled_calls(model: str) -> list[Call]:
    """The statistics calls of one sampled step of ``model`` (after two warm-up steps)."""
    step, close = guard_overhead.make_step(model, "cpu", 1)
    step()
    step()
    calls: list[Call] = []
    with recording(calls):
        step()
    close()
    return calls


def time_call(c: Call, repeat: int) -> float:
    """Best-of-``repeat`` seconds per call, in blocks of 10 calls."""
    with torch.no_grad():
        for _ in range(3):
            c.fn(*c.args, **c.kwargs)
        best = float("inf")
        for _ in range(max(1, repeat // 10)):
            t0 = time.perf_counter()
            for _ in range(10):
                c.fn(*c.args, **c.kwargs)
            best = min(best, (time.perf_counter() - t0) / 10)
    return best


def count_ops(c: Call) -> Counter[str]:
    with torch.no_grad(), OpCounter() as counter:
        c.fn(*c.args, **c.kwargs)
    return counter.ops


def shape_of(c: Call) -> str:
    for a in c.args:
        if isinstance(a, torch.Tensor):
            return "x".join(map(str, a.shape)) or "0-d"
    return ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--models", default="all", help=f"comma list of {', '.join(guard_overhead.MODELS)}")
    ap.add_argument("--repeat", type=int, default=200, help="calls timed per recorded call")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: default)")
    ap.add_argument("--detail", action="store_true", help="op names per call")
    args = ap.parse_args(argv)
    names = list(guard_overhead.MODELS) if args.models == "all" else args.models.split(",")
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"threads={torch.get_num_threads()} repeat={args.repeat} torch={torch.__version__}")
    for model in names:
        calls = sampled_calls(model)
        total_us, total_ops = 0.0, 0
        by_fn: dict[str, list[float]] = {}
        print(f"\n{model}: {len(calls)} calls in one sampled step")
        for c in calls:
            us = time_call(c, args.repeat) * 1e6
            ops = count_ops(c)
            n = sum(ops.values())
            total_us += us
            total_ops += n
            agg = by_fn.setdefault(c.name, [0, 0.0, 0])
            agg[0] += 1
            agg[1] += us
            agg[2] += n
            if args.detail:
                top = ", ".join(f"{k} {v}" for k, v in ops.most_common())
                print(f"  {c.name:26s} {shape_of(c):18s} {us:8.1f} us {n:4d} ops: {top}")
        for name, (k, us, n) in sorted(by_fn.items(), key=lambda kv: -kv[1][1]):
            print(f"  {name:26s} x{k:<3d} {us:8.1f} us {n:5d} ops")
        print(f"  {'total':26s}      {total_us:8.1f} us {total_ops:5d} ops")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
