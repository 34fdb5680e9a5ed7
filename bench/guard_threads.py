"""Why the guard does not compute a sampled step's statistics on a second thread.

Small tensor operations from two Python threads: each operation takes the interpreter
lock back from the other thread, so both slow down. Prints the time per operation with
one thread, and with a second thread issuing the same operations at the same time.

    python bench/guard_threads.py [--ops 20000]
"""

from __future__ import annotations

import argparse
import threading
import time

import torch


def work(t: torch.Tensor, rounds: int) -> None:
    for _ in range(rounds):
        (t * 2).sum(-1).amax()  # three small operations, like a statistic's


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--ops", type=int, default=20000, help="rounds of three operations")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    t = torch.randn(32, 2, 1, 15)  # the ranker's attention probabilities
    work(t, 1000)
    start = time.perf_counter()
    work(t, args.ops)
    one = (time.perf_counter() - start) / (3 * args.ops)
    other = threading.Thread(target=work, args=(t, args.ops))
    start = time.perf_counter()
    other.start()
    work(t, args.ops)
    other.join()
    two = (time.perf_counter() - start) / (3 * args.ops)
    print(f"one thread:  {one * 1e6:6.2f} us per operation")
    print(f"two threads: {two * 1e6:6.2f} us per operation of each thread ({two / one:.1f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
