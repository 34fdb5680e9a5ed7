"""The rewritten score, relevance, variance and residual statistics give the previous
implementation's values (``tests/_stats_reference.py``) on random inputs: masks, NaN and
infinite scores, padded lists, lists of one item, constant relevance."""

from __future__ import annotations

import math

import _stats_reference as ref
import pytest
import torch

from attnlint.guard import batchstats, stats


def _same(new: dict, old: dict) -> dict:
    wrong = {}
    for k in old:
        x, y = float(new[k]), float(old[k])
        if math.isnan(x) or math.isnan(y) or math.isinf(x) or math.isinf(y):
            ok = (math.isnan(x) and math.isnan(y)) or x == y
        else:
            ok = math.isclose(x, y, rel_tol=2e-5, abs_tol=2e-6)
        if not ok:
            wrong[k] = (x, y)
    return wrong


def _scores(seed: int, shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(*shape, generator=g) * 4 + 2
    mask = torch.rand(*shape, generator=g) < 0.7
    if s.dim() == 2 and s.shape[0] >= 3 and s.shape[1] >= 2:
        mask[0] = False  # a list with no valid score
        mask[-1, 1:] = False  # a list with one
        s[1, 0] = math.nan
        s[1, 1] = -math.inf
        s[-1, -1] = math.inf  # on a padded item: does not count
    return s, mask


@pytest.mark.parametrize("shape", [(4, 10), (8, 64), (1, 1), (3, 2), (16,)])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_score_stats_match_the_previous_implementation(
    shape: tuple[int, ...], masked: bool, seed: int
) -> None:
    s, mask = _scores(seed, shape)
    new = batchstats.score_stats(s, mask if masked else None)
    valid = mask if masked else torch.ones_like(s, dtype=torch.bool)
    assert not _same(new, ref.score_stats(s, valid))


def test_score_stats_without_a_valid_score() -> None:
    s = torch.full((2, 3), math.nan)
    out = batchstats.score_stats(s, None)
    assert float(out["score_nonfinite"]) == 6
    assert (float(out["score_min"]), float(out["score_max"])) == (math.inf, -math.inf)
    assert float(out["score_abs_max"]) == 0.0
    assert math.isnan(float(out["score_spread_max"]))


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_relevance_stats_match_the_previous_implementation(masked: bool, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    rel = torch.randint(0, 4, (5, 12), generator=g).float()
    rel[2] = 1.0  # constant relevance
    mask = torch.rand(5, 12, generator=g) < 0.7
    mask[0] = False
    mask[1, 1:] = False
    m = mask if masked else None
    assert not _same(batchstats.relevance_stats(rel, m), ref.relevance_stats(rel, m))
    one = rel[3]  # a single list, 1-d
    assert not _same(batchstats.relevance_stats(one, None), ref.relevance_stats(one, None))


@pytest.mark.parametrize("shape", [(4, 20, 16), (1, 33, 32), (8, 1, 4), (2, 3, 5, 7)])
def test_relative_variance_matches_the_previous_implementation(shape: tuple[int, ...]) -> None:
    g = torch.Generator().manual_seed(3)
    x = torch.randn(*shape, generator=g) * 2 + 1
    for dim in range(x.dim() - 1):
        new, old = stats.relative_variance(x, dim), ref.relative_variance(x, dim)
        assert _same({"v": new}, {"v": old}) == {}, dim
    zero = torch.zeros(shape)
    new, old = stats.relative_variance(zero, 1), ref.relative_variance(zero, 1)
    assert _same({"v": new}, {"v": old}) == {}  # 0, or NaN with one position


def test_residual_ratio_matches_the_previous_implementation() -> None:
    g = torch.Generator().manual_seed(4)
    x = torch.randn(4, 9, 16, generator=g)
    y = x + 0.1 * torch.randn(4, 9, 16, generator=g)
    valid = torch.rand(4, 9, generator=g) < 0.6
    for v in (None, valid):
        new, old = stats.residual_ratio(y, x, v), ref.residual_ratio(y, x, v)
        assert math.isclose(new.item(), old.item(), rel_tol=1e-5)
    x_before = x.clone()
    stats.residual_ratio(y, x, valid)
    assert torch.equal(x, x_before)


@pytest.mark.parametrize("seed", [0, 1])
def test_masked_relative_variance_matches_the_previous_implementation(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(6, 15, 8, generator=g) * 3 - 1
    valid = torch.rand(6, 15, generator=g) < 0.6
    valid[0] = False  # no position
    valid[1, 1:] = False  # one position: does not count
    new, old = stats.relative_variance(x, 1, valid), ref.relative_variance(x, 1, valid)
    assert _same({"v": new}, {"v": old}) == {}
    none = torch.zeros(6, 15, dtype=torch.bool)
    assert math.isnan(stats.relative_variance(x, 1, none).item())


def test_no_host_read_in_the_batch_and_variance_statistics() -> None:
    from test_guard_attnstats import _Guarded

    s, mask = _scores(0, (4, 10))
    x = torch.randn(4, 10, 8)
    with _Guarded():
        batchstats.score_stats(s, mask)
        batchstats.score_stats(s, None)
        batchstats.relevance_stats(s.nan_to_num(), mask)
        batchstats.relevance_stats(s.nan_to_num(), None)
        stats.relative_variance(x, 1)
        stats.relative_variance(x, 1, mask)
        stats.residual_ratio(x * 2, x, mask)
        stats.nonfinite(x, x, s)
