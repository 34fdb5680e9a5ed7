"""Lint time against file size: is one big file linear?

    python bench/lint_scaling.py [--sizes 5000,10000,20000,50000] [--rounds 1]

Builds one module per size out of a training-code block that sets off most rules
(optimizer with a literal learning rate, clipping with a discarded norm, a GradScaler
step, nan_to_num on scores, hand-written attention, a skipped non-finite loss), and a
``plain`` variant of the same size with no findings (classes, docstrings, arithmetic;
one trigger word, so that it is parsed too). For each it prints the lines, the findings,
the seconds of a bare libcst parse, of the whole ``attnlint check`` in a subprocess
(start-up included, no cache), their ratio, and the seconds per 10k lines: flat from the
smallest to the largest size means linear time. Each figure is given as wall-clock time
and as CPU time (user + system: the check's from its process, the parse's from this
one), which a machine shared with other work disturbs less. Rounds are interleaved
(every size once, then again) so that a busy machine slows all sizes alike; the best
round is kept. The load average is printed before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The optimizer line is a trigger word that is no finding: libcst parses both variants.
HEADER = (
    "import logging\n\nimport torch\nfrom torch import nn\n\nlog = logging.getLogger(__name__)\n"
    "\n\ndef make_optimizer(model, cfg):\n"
    "    return torch.optim.AdamW(model.parameters(), lr=cfg.lr)\n"
)

FINDINGS = '''

def train_{i}(model, loader, cfg):
    """Epoch {i}: the mistakes attnlint exists for, one of each."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scaler = torch.cuda.amp.GradScaler()
    for batch in loader:
        loss = model(batch).mean()
        scaler.scale(loss).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(opt)
        scaler.update()
        scores = torch.nan_to_num(model.scores(batch))
        attn = torch.softmax(q @ k.transpose(-2, -1), dim=-1)
        if not torch.isfinite(loss):
            continue
        log.info("loss %s %s %s", loss.item(), scores.sum(), attn.mean())
    return opt
'''

PLAIN = '''

class Block{i}(nn.Module):
    """A residual block; nothing here is a finding."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.proj = nn.Linear(width, width)
        self.scale = width ** -0.5

    def forward(self, x):
        # a comment, as real code has them
        y = self.proj(x) * self.scale
        total = sum(v * v for v in range(8)) + len([i for i in range(4) if i % 2])
        return x + y if total > 0 else x - y
'''


def build(kind: str, lines: int) -> str:
    block = FINDINGS if kind == "findings" else PLAIN
    parts = [HEADER]
    count = HEADER.count("\n")
    step = block.count("\n")
    i = 0
    while count < lines:
        parts.append(block.format(i=i))
        count += step
        i += 1
    return "".join(parts)


Timing = tuple[float, float]  # (wall seconds, CPU seconds)


def bare_parse(source: str) -> Timing:
    import libcst as cst

    start, cpu = time.perf_counter(), time.process_time()
    cst.parse_module(source)
    return time.perf_counter() - start, time.process_time() - cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def check(path: Path) -> tuple[Timing, int]:
    cmd = [sys.executable, "-m", "attnlint.cli", "check", str(path), "--no-cache"]
    cmd += ["--output-format", "json", "--exit-zero"]
    start, cpu = time.perf_counter(), _children_cpu()
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    timing = (time.perf_counter() - start, _children_cpu() - cpu)
    return timing, len(json.loads(done.stdout))


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,10000,20000,50000")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--kinds", default="findings,plain")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    kinds = args.kinds.split(",")
    best: dict[tuple[str, int], tuple[Timing, Timing, int]] = {}
    lines: dict[tuple[str, int], int] = {}
    load_before = _load()
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for kind in kinds:
            for size in sizes:
                path = Path(tmp) / f"{kind}_{size}.py"
                text = build(kind, size)
                path.write_text(text, encoding="utf-8")
                lines[kind, size] = text.count("\n")
                files[kind, size] = path
        for _ in range(args.rounds):
            for key, path in files.items():
                parse = bare_parse(path.read_text(encoding="utf-8"))
                total, found = check(path)
                old = best.get(key)
                if old is None:
                    best[key] = (parse, total, found)
                else:  # the best wall and the best CPU figure of each, over the rounds
                    best[key] = (_least(old[0], parse), _least(old[1], total), found)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; best of {args.rounds}")
    print(f"load average (1, 5, 15 min): {load_before} before, {_load()} after")
    print(
        f"{'file':>10} {'lines':>7} {'findings':>8} {'parse s':>8} {'check s':>8} {'ratio':>6}"
        f" {'s/10k':>6} | {'parse cpu':>9} {'check cpu':>9} {'ratio':>6} {'cpu/10k':>7}"
    )
    for (kind, size), (parse, total, found) in best.items():
        n = lines[kind, size]
        wall = f"{parse[0]:>8.2f} {total[0]:>8.2f} {total[0] / parse[0]:>6.2f}"
        cpu = f"{parse[1]:>9.2f} {total[1]:>9.2f} {total[1] / parse[1]:>6.2f}"
        per_wall, per_cpu = total[0] / n * 10_000, total[1] / n * 10_000
        print(f"{kind:>10} {n:>7} {found:>8} {wall} {per_wall:>6.2f} | {cpu} {per_cpu:>7.2f}")
    for kind in kinds:
        small, large = best[kind, sizes[0]][1], best[kind, sizes[-1]][1]
        print(
            f"{kind}: {sizes[-1] // sizes[0]}x the lines took {large[0] / small[0]:.1f}x the "
            f"wall time, {large[1] / small[1]:.1f}x the CPU time"
        )


def _least(a: Timing, b: Timing) -> Timing:
    return min(a[0], b[0]), min(a[1], b[1])


if __name__ == "__main__":
    main()
