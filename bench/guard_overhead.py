"""Training-step overhead of the AttentionGuard, as ratios to the plain step.

For each model: the time of a block of 10 training steps (forward, backward,
optimizer step, and the guard's calls a training loop makes) plain, under the guard with
``every=1`` (all statistics) and ``every=10``, on unsampled steps only (``every`` so large
that no timed step is sampled), and under ``torch.autograd.detect_anomaly`` as a
reference. Blocks of the variants are interleaved round by round, so drift (thermal, other
processes) hits all of them alike; a block of 10 holds exactly one sampled step at
``every=10``. A variant's time is the first quartile of its blocks: on a shared machine,
steps slow down by 15-20 % for a second or two every so often, and noise only ever adds
time.

    python bench/guard_overhead.py [--models all] [--rounds 12] [--threads 1]
        [--device cpu|cuda] [--compile] [--memory-steps 1000]

``--compile`` times the same models under ``torch.compile`` instead (compiled after the
guard is attached): plain, guarded at ``every=10`` and on unsampled steps only. The memory
run counts live tensors and the process's resident memory over 1,000 guarded steps of a
small model, eager and compiled.

On a shared machine, run it at a high scheduling priority (``chrt -f 10 python ...`` as
root) so that other processes do not preempt the timed blocks; the ratios of a loaded
machine are several per cent off in either direction.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import resource
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnlint.demo.data import make_lists
from attnlint.demo.listmle import listmle_loss
from attnlint.demo.model import DeepSetRank
from attnlint.guard import AttentionGuard, GuardConfig

BLOCK = 10  # steps per timed block: one sampled step at every=10
UNSAMPLED = 10**9  # an `every` no timed step reaches


# ----------------------------------------------------------------------------- models
class CausalSelfAttention(nn.Module):
    """nanoGPT's attention block (flash path: F.scaled_dot_product_attention)."""

    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.heads = heads

    def forward(self, x: Tensor) -> Tensor:
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(C, dim=2)
        q = q.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        k = k.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        v = v.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))


class Block(nn.Module):
    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)
        self.attn = CausalSelfAttention(d, heads)
        self.ln_2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, vocab: int, d: int, layers: int, heads: int, seq: int) -> None:
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(seq, d)
        self.h = nn.ModuleList(Block(d, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)
        self.lm_head = nn.Linear(d, vocab, bias=False)
        self.wte.weight = self.lm_head.weight  # weight tying, as nanoGPT

    def forward(self, idx: Tensor) -> Tensor:
        pos = torch.arange(idx.shape[1], device=idx.device)
        x = self.wte(idx) + self.wpe(pos)
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))


@dataclass
class Workload:
    """A model, one fixed batch, and the step a training loop runs on it."""

    model: nn.Module
    run: Callable[[Callable[..., Tensor], AttentionGuard | None], Tensor]  # -> loss


def encoder(device: str, d: int, layers: int, seq: int, batch: int) -> Workload:
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(d, 4, dim_feedforward=4 * d, batch_first=True)
    model = nn.Sequential(nn.Linear(32, d), nn.TransformerEncoder(layer, layers), nn.Linear(d, 1))
    x = torch.randn(batch, seq, 32, device=device)
    y = torch.randn(batch, seq, device=device)

    def run(fwd: Callable[..., Tensor], guard: AttentionGuard | None) -> Tensor:
        out = fwd(x).squeeze(-1)
        if guard is not None:
            guard.check_scores(out)
        return (out - y).square().mean()

    return Workload(model.to(device), run)


def ranker(device: str) -> Workload:
    """The DeepSet ranker at the training size of the investigation it comes from: 4 lists
    of 10 teams of up to 15 players, 21 features per player."""
    torch.manual_seed(0)
    data = make_lists(n_lists=4, teams=(6, 10), players=(8, 15), dim=21)
    model = DeepSetRank(input_dim=21)
    x, pm, tm, rel = (t.to(device) for t in (data.x, data.player_mask, data.team_mask, data.rel))

    def run(fwd: Callable[..., Tensor], guard: AttentionGuard | None) -> Tensor:
        scores = fwd(x, pm, tm)
        if guard is not None:
            guard.check_scores(scores, mask=tm)
            guard.check_relevance(rel, mask=tm)
        return listmle_loss(scores, rel, tm)

    return Workload(model.to(device), run)


def nanogpt(device: str) -> Workload:
    torch.manual_seed(0)
    vocab, seq = 512, 64
    model = GPT(vocab, 128, 4, 4, seq)
    idx = torch.randint(vocab, (8, seq), device=device)
    target = torch.randint(vocab, (8, seq), device=device)

    def run(fwd: Callable[..., Tensor], guard: AttentionGuard | None) -> Tensor:
        logits = fwd(idx)
        return F.cross_entropy(logits.flatten(0, 1), target.flatten())

    return Workload(model.to(device), run)


MODELS: dict[str, Callable[[str], Workload]] = {
    "encoder-small": lambda dev: encoder(dev, 64, 2, 64, 8),  # 2 layers d 64 seq 64 batch 8
    "ranker": ranker,
    "nanogpt": nanogpt,  # 4 layers, width 128, batch 8 x 64
    "default": lambda dev: encoder(dev, 128, 4, 128, 16),  # 4 layers d 128 seq 128 batch 16
}


# ----------------------------------------------------------------------------- steps
def make_step(
    name: str, device: str, every: int | None, anomaly: bool = False, compiled: bool = False
) -> tuple[Callable[[], None], Callable[[], None]]:
    work = MODELS[name](device)
    model = work.model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    guard = None
    if every is not None:
        guard = AttentionGuard(model, config=GuardConfig(every=every, on_violation="log"))
    fwd: Callable[..., Tensor] = torch.compile(model) if compiled else model

    def step() -> None:
        with torch.autograd.detect_anomaly() if anomaly else contextlib.nullcontext():
            loss = work.run(fwd, guard)
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


def bench_model(name: str, device: str, rounds: int, compiled: bool) -> dict[str, float]:
    """Block time per variant (seconds per step): the first quartile of its rounds."""
    if compiled:
        variants = {
            "compiled": make_step(name, device, None, compiled=True),
            "compiled + guard every=10": make_step(name, device, 10, compiled=True),
            "compiled, unsampled steps": make_step(name, device, UNSAMPLED, compiled=True),
        }
    else:
        variants = {
            "plain": make_step(name, device, None),
            "guard every=1": make_step(name, device, 1),
            "guard every=10": make_step(name, device, 10),
            "unsampled steps": make_step(name, device, UNSAMPLED),
            "detect_anomaly": make_step(name, device, None, anomaly=True),
        }
    for step, _ in variants.values():  # warm-up: one full block (and the first compile)
        for _ in range(BLOCK):
            step()
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(rounds):
        for key, (step, _) in variants.items():
            sync(device)
            t0 = time.perf_counter()
            for _ in range(BLOCK):
                step()
            sync(device)
            times[key].append((time.perf_counter() - t0) / BLOCK)
    for _, close in variants.values():
        close()
    # the steps of a shared machine slow down by 15-20 % for a second or two every so
    # often, whatever runs then, and noise only ever adds time: the first quartile, not
    # the median, which a run of slow periods falling on one variant's blocks can decide
    return {k: statistics.quantiles(v, n=4)[0] for k, v in times.items()}


# ----------------------------------------------------------------------------- memory
def live_tensors() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, torch.Tensor))


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def memory_run(device: str, steps: int, compiled: bool) -> str:
    step, close = make_step("encoder-small", device, 10, compiled=compiled)
    marks = {steps // 10 - 1, steps - 1}
    seen: list[tuple[int, float]] = []
    for i in range(steps):
        step()
        if i in marks:
            seen.append((live_tensors(), rss_mib()))
    close()
    (t0, r0), (t1, r1) = seen
    kind = "compiled" if compiled else "eager"
    return (
        f"memory ({kind}, every=10, encoder-small, steps {steps // 10} -> {steps}): "
        f"live tensors {t0} -> {t1}, RSS {r0:.0f} -> {r1:.0f} MiB"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--models", default="all", help=f"comma list of {', '.join(MODELS)}")
    ap.add_argument("--rounds", type=int, default=12, help="timed blocks per variant")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: default)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--compile", action="store_true", help="time torch.compile'd models instead")
    ap.add_argument("--memory-steps", type=int, default=1000, help="0 skips the memory run")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", message="Anomaly Detection has been enabled")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("error: --device cuda but CUDA is not available", file=sys.stderr)
        return 2
    names = list(MODELS) if args.models == "all" else args.models.split(",")
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        print(
            f"error: unknown model {unknown[0]!r} (choose from {', '.join(MODELS)})",
            file=sys.stderr,
        )
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"device={args.device} threads={torch.get_num_threads()} rounds={args.rounds} "
        f"block={BLOCK} steps torch={torch.__version__}"
    )
    for name in names:
        med = bench_model(name, args.device, args.rounds, args.compile)
        base = next(iter(med.values()))
        for key, t in med.items():
            print(f"{name:14s} {key:26s} {t * 1e3:8.2f} ms/step  {t / base:5.3f}x")
    if args.memory_steps:
        print(memory_run(args.device, args.memory_steps, args.compile))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
