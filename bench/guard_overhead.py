"""Training-step overhead of the AttentionGuard, as ratios to the plain step.

Median time of forward + backward + optimizer step of a 4-layer nn.TransformerEncoder
(d_model 128, nhead 4, sequence 128, batch 16) plain, under the guard with every=1 (all
statistics) and every=10, and under torch.autograd.detect_anomaly as a reference. The
variants are interleaved step by step so that drift (thermal, other processes) hits all of
them alike. Then the number of live tensors is compared over 1,000 guarded steps.

    python bench/guard_overhead.py [--steps 40] [--device cpu|cuda] [--memory-steps 1000]

The memory run uses a small model (SIZES["small"]) so that 1,000 steps finish quickly.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import statistics
import sys
import time
import warnings
from collections.abc import Callable

import torch
from torch import nn

from attnlint.guard import AttentionGuard, GuardConfig

SIZES = {  # d_model, layers, sequence, batch
    "spec": (128, 4, 128, 16),  # the size the targets are stated for
    "small": (32, 2, 16, 8),  # for the 1,000-step memory run
}


def make_model(device: str, d: int, layers: int) -> nn.Module:
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(d, 4, dim_feedforward=4 * d, batch_first=True)
    model = nn.Sequential(nn.Linear(32, d), nn.TransformerEncoder(layer, layers), nn.Linear(d, 1))
    return model.to(device).train()


def make_step(
    device: str, guard_every: int | None, anomaly: bool, size: str = "spec"
) -> tuple[Callable[[], None], Callable[[], None]]:
    d, layers, seq, batch = SIZES[size]
    model = make_model(device, d, layers)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(batch, seq, 32, device=device)
    y = torch.randn(batch, seq, device=device)
    guard = None
    if guard_every is not None:
        guard = AttentionGuard(model, config=GuardConfig(every=guard_every, on_violation="log"))

    def step() -> None:
        with torch.autograd.detect_anomaly() if anomaly else contextlib.nullcontext():
            out = model(x).squeeze(-1)
            loss = (out - y).square().mean()
            if guard is not None:
                guard.check_scores(out)
            opt.zero_grad(set_to_none=True)
            loss.backward()
        if guard is not None:
            guard.record_grad_norms()
        opt.step()
        if guard is not None:
            guard.step(loss=loss)

    def close() -> None:
        if guard is not None:
            guard.close()

    return step, close


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def live_tensors() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) in (torch.Tensor, nn.Parameter))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=40, help="timed steps per variant")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--memory-steps", type=int, default=1000, help="0 skips the memory run")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", message="Anomaly Detection has been enabled")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("error: --device cuda but CUDA is not available", file=sys.stderr)
        return 2

    variants = {
        "plain": make_step(args.device, None, False),
        "guard every=1": make_step(args.device, 1, False),
        "guard every=10": make_step(args.device, 10, False),
        "detect_anomaly": make_step(args.device, None, True),
    }
    times: dict[str, list[float]] = {k: [] for k in variants}
    for i in range(args.warmup + args.steps):
        for name, (step, _) in variants.items():
            sync(args.device)
            t0 = time.perf_counter()
            step()
            sync(args.device)
            if i >= args.warmup:
                times[name].append(time.perf_counter() - t0)
    for _, close in variants.values():
        close()

    base = statistics.median(times["plain"])
    print(f"device={args.device} threads={torch.get_num_threads()} steps={args.steps}")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:16s} median {med * 1e3:8.1f} ms  ratio {med / base:5.2f}x")

    if args.memory_steps:
        step, close = make_step(args.device, 10, False, size="small")
        counts = []
        for i in range(args.memory_steps):
            step()
            if i in (args.memory_steps // 10 - 1, args.memory_steps - 1):
                counts.append(live_tensors())
        close()
        mem = ""
        if args.device.startswith("cuda"):
            mem = f", cuda allocated {torch.cuda.memory_allocated() / 2**20:.1f} MiB"
        print(
            f"memory (every=10, small model, {args.memory_steps} steps): live tensors "
            f"{counts[0]} -> {counts[1]}{mem}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
