"""The cheap checks kept for later answer exactly what the same checks computed in the step
answer: the number of bad calls per check, whatever the shapes, masks and batching."""

from __future__ import annotations

import math
import random

import torch

from attnlint.guard import batchstats, cheap
from attnlint.guard.cheap import CheapFlags


def _scores_call(rng: random.Random) -> tuple[torch.Tensor, torch.Tensor | None]:
    lists, items = rng.choice([(4, 10), (4, 10), (2, 7)])
    s = torch.randn(lists, items)
    kind = rng.random()
    if kind < 0.15:
        s[rng.randrange(lists), rng.randrange(items)] = math.nan
    elif kind < 0.25:
        s[0, 0] = math.inf
    mask = None
    if rng.random() < 0.7:
        mask = torch.rand(lists, items) > 0.3
        if rng.random() < 0.3:  # a bad score on a padded item is no problem
            s[~mask] = math.nan
    return s, mask


def _relevance_call(rng: random.Random) -> tuple[torch.Tensor, torch.Tensor | None]:
    shape = rng.choice([(4, 10), (4, 10), (10,), (3, 6)])
    r = torch.randint(0, 4, shape).float()
    kind = rng.random()
    if kind < 0.15:
        r[..., :] = 2.0  # constant lists
    elif kind < 0.25:
        r.view(-1)[0] = math.nan
    mask = None
    if rng.random() < 0.6:
        mask = torch.rand(shape) > 0.4
        if rng.random() < 0.5:
            mask = mask.float()  # a 0/1 mask: > 0 is a real item
        if rng.random() < 0.2:
            mask = torch.zeros(shape, dtype=mask.dtype)  # no valid item at all
    return r, mask


def test_deferred_counts_equal_the_counts_computed_in_the_step() -> None:
    rng = random.Random(7)
    torch.manual_seed(7)
    deferred, direct = CheapFlags(torch.device("cpu")), CheapFlags(torch.device("cpu"))
    expected = {"output": 0, "scores": 0, "relevance": 0}
    for _ in range(150):  # past CAP: the pending calls are answered in several batches
        s, m = _scores_call(rng)
        assert deferred.defer("scores", s, m)
        flag = batchstats.scores_bad(s, m)
        direct.add("scores", flag)
        expected["scores"] += int(flag)
        r, rm = _relevance_call(rng)
        assert deferred.defer("relevance", r, rm)
        flag = batchstats.relevance_bad(r, rm)
        direct.add("relevance", flag)
        expected["relevance"] += int(flag)
        out = s.clone()
        if rng.random() < 0.2:
            out[0, 0] = -math.inf  # -inf in an output is the masking idiom, not a problem
        assert deferred.defer("output", out)
        flag = cheap.output_bad([out])
        direct.add("output", flag)
        expected["output"] += int(flag)
    got = {k: int(v.item()) for k, v in deferred.counts.items()}
    assert got == expected == {k: int(v.item()) for k, v in direct.counts.items()}
    assert 0 < expected["scores"] < 150 and 0 < expected["relevance"] < 150
    assert 0 < expected["output"] < 150


def test_pending_calls_are_bounded_and_reset_forgets_them() -> None:
    flags = CheapFlags(torch.device("cpu"))
    bad = torch.tensor([1.0, math.nan])
    for _ in range(cheap.CAP * 3 + 1):
        flags.defer("scores", bad)
        assert len(flags._pending["scores"]) < cheap.CAP  # never more kept alive than CAP
    assert flags.counts["scores"].item() == cheap.CAP * 3 + 1
    flags.defer("scores", bad)
    flags.reset()
    assert flags.counts["scores"].item() == 0


def test_large_tensors_and_odd_masks_are_not_kept() -> None:
    flags = CheapFlags(torch.device("cpu"))
    big = torch.zeros(cheap.DEFER_NUMEL + 1)
    assert not flags.defer("output", big)
    # a mask that only broadcasts would not stack with the scores: reduced in the step
    assert not flags.defer("scores", torch.zeros(4, 10), torch.ones(10, dtype=torch.bool))
    assert flags._pending["output"] == [] and flags._pending["scores"] == []
