"""PlateauDetector: fires once per plateau, re-arms on improvement, relative min_delta."""

from __future__ import annotations

import pytest

from attnlint.guard.plateau import PlateauDetector


def fired(det: PlateauDetector, losses: list[float]) -> list[int]:
    return [i for i, loss in enumerate(losses) if det.update(loss)]


def test_fires_exactly_once_after_patience_stale_updates() -> None:
    det = PlateauDetector(patience=3, min_delta=0.0)
    # 10 improves on nothing, then 5 stale updates: fire on the 3rd stale one only
    assert fired(det, [10.0, 9.0, 9.0, 9.5, 9.0, 9.0, 9.0]) == [4]


def test_rearms_after_improvement() -> None:
    det = PlateauDetector(patience=2, min_delta=0.0)
    assert fired(det, [5.0, 5.0, 5.0, 4.0, 4.0, 4.0, 4.0]) == [2, 5]


def test_min_delta_is_relative_to_the_best_loss() -> None:
    det = PlateauDetector(patience=2, min_delta=0.01)
    # from 100, 99.5 is only a 0.5% improvement: stale; 98.9 is > 1%: improvement
    assert fired(det, [100.0, 99.5, 98.9, 98.5, 98.0]) == [4]
    small = PlateauDetector(patience=2, min_delta=0.01)
    # the same 1% rule on a loss near 0.7: 0.69 beats 0.7 by 1.4%
    assert fired(small, [0.7, 0.69, 0.689, 0.688]) == [3]


def test_non_finite_losses_are_no_improvement() -> None:
    det = PlateauDetector(patience=2, min_delta=0.0)
    assert fired(det, [float("nan"), float("inf"), 3.0, float("nan"), float("-inf")]) == [1, 4]
    assert det.best == 3.0


def test_patience_zero_disables() -> None:
    det = PlateauDetector(patience=0, min_delta=0.0)
    assert fired(det, [1.0] * 100) == []


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        PlateauDetector(patience=-1, min_delta=0.0)
    with pytest.raises(ValueError):
        PlateauDetector(patience=1, min_delta=float("nan"))
