"""The demo's two runs over several random seeds: the figures docs/attention-collapse.md
quotes (healthy entropy floor, when the collapse shows, how far the logits grow).

    python bench/demo_seeds.py [--seeds 8] [--steps 60]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from attnlint.demo.train import VARIANTS, train
from attnlint.report.runlog import read_run_log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(
        "seed  healthy: min H/log n, violations  collapse: first violation, logit std first->last"
    )
    floors, onsets, growth = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            cells = []
            for name in ("healthy", "collapse"):
                path = Path(tmp) / f"{name}-{seed}.jsonl"
                train(VARIANTS[name], path, steps=args.steps, seed=seed)
                log = read_run_log(path)
                site = log.sites[0]
                entropy = [s.layers[site].normalized_entropy or 0.0 for s in log.steps]
                logit = [s.layers[site].logit_std or 0.0 for s in log.steps]
                first = next((s.step for s in log.steps if s.violations), None)
                cells.append((min(entropy), len(log.violations), first, logit[0], logit[-1]))
            (h_min, h_n, _, _, _), (_, _, c_first, l0, l1) = cells
            floors.append(h_min)
            onsets.append(c_first if c_first is not None else args.steps)
            growth.append((l0, l1))
            print(
                f"{seed:4d}  {h_min:8.3f} {h_n:6d}            {c_first!s:>5}  {l0:.3g} -> {l1:.3g}"
            )
    print(
        f"healthy floor {min(floors):.3f}; collapse by step {max(onsets)}; logit std "
        f"{min(g[0] for g in growth):.3g}-{max(g[0] for g in growth):.3g} -> "
        f"{min(g[1] for g in growth):.3g}-{max(g[1] for g in growth):.3g}"
    )


if __name__ == "__main__":
    main()
