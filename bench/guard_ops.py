"""Where a sampled step's torch operations go: per guard function, for one model.

Runs three warm-up steps of a model of ``bench/guard_overhead.py`` unguarded and under the
guard with ``every=1``, then counts the aten operations of one more step of each (a
``TorchDispatchMode`` counter, backward and optimizer included). Each operation the guard
issues is charged to the innermost guard function on the Python stack at that moment; the
model's own operations (also those run from inside a guard wrapper) are the unguarded
step's count. ``--names`` also lists the operations per function. A sampled step's cost on
CPU follows this count: each operation costs a few microseconds however small its tensors.

    python bench/guard_ops.py [--models ranker] [--names]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

sys.path.insert(0, str(Path(__file__).resolve().parent))

import guard_overhead

_GUARD = os.sep + os.path.join("attnlint", "guard") + os.sep
_WRAPPERS = ("around", "__call__", "__torch_function__")  # frames running the model


class OpsByFunction(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.total = 0
        self.where: Counter[str] = Counter()
        self.names: Counter[tuple[str, str]] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        self.total += 1
        frame = sys._getframe(1)
        where = "model"
        while frame is not None:
            path = frame.f_code.co_filename
            if _GUARD in path:
                name = frame.f_code.co_name
                where = "model" if name in _WRAPPERS else f"{path.split(_GUARD)[1]}:{name}"
                break
            frame = frame.f_back
        self.where[where] += 1
        self.names[(where, func.overloadpacket.__name__)] += 1
        return func(*args, **(kwargs or {}))


def count(model: str, every: int | None) -> OpsByFunction:
    step, close = guard_overhead.make_step(model, "cpu", every)
    for _ in range(3):
        step()
    with OpsByFunction() as ops:
        step()
    close()
    return ops


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--models", default="ranker", help="comma list of bench/guard_overhead.py's")
    ap.add_argument("--names", action="store_true", help="the operations of each function")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    for model in args.models.split(","):
        plain = count(model, None)
        guarded = count(model, 1)
        own = guarded.total - guarded.where["model"]
        print(
            f"{model}: unguarded step {plain.total} ops, sampled step {guarded.total} "
            f"({guarded.total - plain.total:+d}); issued by guard functions: {own}"
        )
        for where, n in guarded.where.most_common():
            if where == "model":
                continue
            print(f"  {n:5d}  {where}")
            if args.names:
                ops = [(op, k) for (w, op), k in guarded.names.items() if w == where]
                print(
                    "         "
                    + ", ".join(f"{op} {k}" for op, k in sorted(ops, key=lambda x: -x[1]))
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
