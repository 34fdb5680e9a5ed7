"""Loss plateau detection: the trigger for the chain diagnosis ("my model is not learning").

An improvement is *relative*: a loss counts as better only when it is below the best loss
seen so far by more than ``min_delta * |best|``. Relative because listwise losses live on
very different scales (a ListMLE over lists of 15 items sits near log(15!) ~ 27.9, a
pairwise loss near 0.7), so one absolute threshold could not fit both. The consequence is
that a best loss of exactly 0 can never be improved on, which is the right reading: there
is nothing left to learn. Torch-free: the guard converts the loss to a float first.
"""

from __future__ import annotations

import math


class PlateauDetector:
    """``update(loss)`` returns True exactly once per plateau: on the ``patience``-th
    consecutive update without an improvement. An improvement re-arms it. ``patience=0``
    disables it. Non-finite losses never count as an improvement (a NaN loss is not
    learning either) and never become the best loss."""

    def __init__(self, patience: int, min_delta: float) -> None:
        if patience < 0:
            raise ValueError(f"patience must be >= 0, got {patience}")
        if not min_delta >= 0:
            raise ValueError(f"min_delta must be >= 0, got {min_delta}")
        self.patience = patience
        self.min_delta = min_delta
        self.best: float | None = None
        self.stale = 0  # consecutive updates without an improvement

    def update(self, loss: float) -> bool:
        if self.patience == 0:
            return False
        loss = float(loss)
        if math.isfinite(loss) and (
            self.best is None or loss < self.best - self.min_delta * abs(self.best)
        ):
            self.best = loss
            self.stale = 0
            return False
        self.stale += 1
        return self.stale == self.patience

    def reset(self) -> None:
        self.best = None
        self.stale = 0
