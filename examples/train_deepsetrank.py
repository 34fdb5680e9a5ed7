"""Train the reference DeepSetRank in a plain PyTorch loop under AttentionGuard.

    python examples/train_deepsetrank.py --steps 200 --log run.jsonl
    attnlint report run.jsonl
    attnlint plot run.jsonl -o diag.png

Try ``--temperature 0.01`` to watch the guard report attention collapsing to one-hot.
Every knob the seed investigation had hard-coded (learning rate, clip norm) is a flag
here, and the norm returned by clipping is used, so ``attnlint check examples/`` is clean.
"""

from __future__ import annotations

import argparse

import torch

from attnlint.demo.data import make_lists
from attnlint.demo.listmle import listmle_loss
from attnlint.demo.model import DeepSetRank
from attnlint.guard import AttentionGuard, GuardConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--clip", type=float, default=5.0, help="max gradient norm")
    parser.add_argument("--temperature", type=float, default=1.0, help="attention temperature")
    parser.add_argument("--log", default="run.jsonl", help="run log to write")
    parser.add_argument("--every", type=int, default=1, help="full statistics every N steps")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    data = make_lists(seed=args.seed)
    model = DeepSetRank(input_dim=data.input_dim, temperature=args.temperature)
    # Check the configured width against the data (the seed's stat_dim mismatch, AL201).
    if data.x.shape[-1] != model.input_dim:
        raise SystemExit(f"model built for {model.input_dim} features, data has {data.x.shape[-1]}")
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)

    # "log": record violations and keep training; "raise" stops at the first one.
    guard = AttentionGuard(
        model, config=GuardConfig(every=args.every, on_violation="log"), log_path=args.log
    )
    print("attention sites:", guard.sites)
    batches = data.batches(16, torch.Generator().manual_seed(args.seed))
    for step in range(args.steps):
        batch = next(batches)
        scores = guard(batch.x, batch.player_mask, batch.team_mask)  # same as model(...)
        guard.check_scores(scores)  # finite_scores
        guard.check_relevance(batch.rel, mask=batch.team_mask)  # relevance
        loss = listmle_loss(scores, batch.rel, batch.team_mask)

        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        guard.record_grad_norms()  # before clipping, or the clip hides vanishing gradients
        total_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=args.clip)
        optimizer.step()

        report = guard.step(loss=loss.item())
        if step % 20 == 0 or (report is not None and report.violations):
            first = report.violations[0].message if report and report.violations else "ok"
            print(f"step {step:4d}  loss {loss.item():.4f}  grad {total_norm:.3f}  {first}")
    guard.close()
    print(f"wrote {args.log}: run `attnlint report {args.log}`")


if __name__ == "__main__":
    main()
