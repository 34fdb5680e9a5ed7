"""Cost of the guard's sampled-step statistics, per function and per model, in time and ops.

The four models of ``bench/guard_overhead.py`` run one sampled step under the guard while
every statistics function (and the probability recomputation) is recorded with its real
arguments. Each recorded call is then replayed alone: the best time of ``--repeat`` calls
and the number of aten ops it dispatches (a ``TorchDispatchMode`` counter). The per-model
line is the sum over the calls of one sampled step. ``--reference`` also times the previous
implementation of each statistic (``tests/_stats_reference.py``) on the same call,
interleaved with the current one so that a busy machine slows both alike. Times are the
process's CPU time (``--clock wall``: wall-clock time), which waiting for a core on a busy
machine does not inflate.

    python bench/guard_stats.py [--models all] [--repeat 200] [--threads 1] [--detail]
        [--reference] [--clock cpu|wall]
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

_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(_ROOT / "bench"), str(_ROOT / "tests")]

import _stats_reference as ref  # noqa: E402
import guard_overhead  # noqa: E402

from attnlint.guard import batchstats, gradnorms, recompute, stats  # noqa: E402

# (module, function name) pairs that a sampled step calls and that this bench times
TIMED: tuple[tuple[Any, str], ...] = (
    (stats, "attention_parts"),  # the device part; the guard finishes it on the host
    (stats, "relative_variance"),
    (stats, "position_variance"),
    (stats, "residual_ratio"),
    (stats, "nonfinite"),
    (batchstats, "score_parts"),
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
                calls.append(
                    Call(
                        f"{mod.__name__.rsplit('.', 1)[-1]}.{name}",
                        fn,
                        _frozen(args),
                        _frozen(kwargs),
                    )
                )
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


def reference_call(c: Call) -> Call | None:
    """The same call to the previous implementation, where one is kept."""
    a, kw = c.args, c.kwargs
    if c.name == "stats.attention_parts":
        probs, valid = a[0], a[1] if len(a) > 1 else kw.get("valid")
        if valid is None:  # the previous recomputation made an all-true mask
            valid = torch.ones((1, 1, 1, probs.shape[-1]), dtype=torch.bool)
        return Call(c.name, ref.attention_stats, (probs, valid, *a[2:]), kw)
    if c.name == "stats.relative_variance":
        return Call(c.name, ref.relative_variance, a, kw)
    if c.name == "stats.position_variance":
        x, valid = a[0], a[1] if len(a) > 1 else kw.get("valid")
        if valid is not None and valid.shape != x.shape[:-1]:
            valid = None
        return Call(c.name, ref.relative_variance, (x, x.dim() - 2, valid), {})
    if c.name == "stats.residual_ratio":
        return Call(c.name, ref.residual_ratio, a, kw)
    if c.name == "batchstats.score_parts":
        s, mask = a
        valid = torch.ones_like(s, dtype=torch.bool) if mask is None else mask.bool()
        return Call(c.name, ref.score_stats, (s, valid), {})
    if c.name == "batchstats.relevance_stats":
        return Call(c.name, ref.relevance_stats, a, kw)
    if c.name == "gradnorms.norms":
        return Call(c.name, ref.grad_norms, (a[0].params,), {})
    return None


def time_calls(calls: list[Call], repeat: int, clock: Callable[[], float]) -> list[float]:
    """Best-of-``repeat`` seconds per call of each, in blocks of 10 calls, interleaved."""
    best = [float("inf")] * len(calls)
    with torch.no_grad():
        for c in calls:
            for _ in range(3):
                c.fn(*c.args, **c.kwargs)
        for _ in range(max(1, repeat // 10)):
            for i, c in enumerate(calls):
                t0 = clock()
                for _ in range(10):
                    c.fn(*c.args, **c.kwargs)
                best[i] = min(best[i], (clock() - t0) / 10)
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
    ap.add_argument(
        "--models", default="all", help=f"comma list of {', '.join(guard_overhead.MODELS)}"
    )
    ap.add_argument("--repeat", type=int, default=200, help="calls timed per recorded call")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: default)")
    ap.add_argument("--detail", action="store_true", help="op names per call")
    ap.add_argument("--reference", action="store_true", help="also time the previous code")
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    args = ap.parse_args(argv)
    names = list(guard_overhead.MODELS) if args.models == "all" else args.models.split(",")
    if args.threads:
        torch.set_num_threads(args.threads)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    print(
        f"threads={torch.get_num_threads()} repeat={args.repeat} clock={args.clock} "
        f"torch={torch.__version__}"
    )
    for model in names:
        calls = sampled_calls(model)
        tot = [0.0, 0, 0.0, 0]  # us and ops: current, previous
        by_fn: dict[str, list[float]] = {}
        print(f"\n{model}: {len(calls)} calls in one sampled step")
        for c in calls:
            old = reference_call(c) if args.reference else None
            times = time_calls([c] if old is None else [c, old], args.repeat, clock)
            ops = count_ops(c)
            old_ops = sum(count_ops(old).values()) if old is not None else sum(ops.values())
            us, n = times[0] * 1e6, sum(ops.values())
            old_us = times[1] * 1e6 if old is not None else us
            for i, v in enumerate((us, n, old_us, old_ops)):
                tot[i] += v
            agg = by_fn.setdefault(c.name, [0, 0.0, 0, 0.0, 0])
            for i, v in enumerate((1, us, n, old_us, old_ops)):
                agg[i] += v
            if args.detail:
                top = ", ".join(f"{k} {v}" for k, v in ops.most_common())
                print(f"  {c.name:26s} {shape_of(c):18s} {us:8.1f} us {n:4d} ops: {top}")
        head = "current" + (" | previous" if args.reference else "")
        print(f"  {'':26s}      {head}")
        for name, (k, us, n, old_us, old_n) in sorted(by_fn.items(), key=lambda kv: -kv[1][1]):
            prev = f" | {old_us:8.1f} us {old_n:5d} ops" if args.reference else ""
            if args.reference and reference_call(next(c for c in calls if c.name == name)) is None:
                prev = " | (no previous kept: counted as current)"
            print(f"  {name:26s} x{k:<3d} {us:8.1f} us {n:5d} ops{prev}")
        prev = f" | {tot[2]:8.1f} us {tot[3]:5d} ops" if args.reference else ""
        print(f"  {'total':26s}      {tot[0]:8.1f} us {tot[1]:5d} ops{prev}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
