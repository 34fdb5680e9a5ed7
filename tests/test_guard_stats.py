"""The row budget of attention_stats: exact below it, a close estimate above it."""

from __future__ import annotations

import math

import torch

from attnlint.guard.stats import attention_stats, nonfinite, relative_variance

EXACT_EVERYWHERE = (
    "mass",
    "mass_min",
    "nan_rows",
    "n_valid",
    "max_row_weight",
    "max_col_sum",
    "col_entropy",
    "uniform_gap",
    "sink_mass",
    "sink_lift",
    "logit_max",
)


def _site(seed: int = 0, scale: float = 2.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(8, 4, 96, 96, generator=g) * scale
    valid = torch.ones(8, 1, 1, 96, dtype=torch.bool)
    valid[2, ..., 60:] = False  # a padded list
    valid[5, ..., 1:] = False  # one valid key: no entropy to speak of
    probs = torch.softmax(logits.masked_fill(~valid, float("-inf")), -1)
    return probs, valid, logits


def test_below_the_budget_every_row_counts() -> None:
    probs, valid, logits = _site()
    exact = attention_stats(probs, valid, logits=logits, row_budget=None)
    rows = probs.shape[:3].numel()
    same = attention_stats(probs, valid, logits=logits, row_budget=rows, topk_budget=rows)
    for name, value in exact.items():
        assert torch.equal(value, same[name]) or (value.isnan() and same[name].isnan()), name


def test_above_the_budget_row_means_are_estimated_closely_and_the_rest_is_exact() -> None:
    probs, valid, logits = _site()
    exact = attention_stats(probs, valid, logits=logits, row_budget=None)
    # stride 3; the top-k masses on the same rows here (their own budget is tested below)
    strided = attention_stats(probs, valid, logits=logits, row_budget=1024, topk_budget=None)
    for name in EXACT_EVERYWHERE:
        assert strided[name].item() == exact[name].item(), name
    for name in ("entropy", "normalized_entropy", "effective_rank", "top5", "top10", "top50"):
        assert math.isclose(strided[name].item(), exact[name].item(), rel_tol=0.02), name
    assert math.isclose(strided["logit_std"].item(), exact["logit_std"].item(), rel_tol=0.02)


def test_a_fully_masked_row_is_counted_even_when_its_query_is_not_sampled() -> None:
    probs, valid, logits = _site()
    valid = valid.expand(8, 4, 96, 96).clone()
    valid[1, 2, 7, :] = False  # query 7 is not on the stride-3 grid
    probs = torch.softmax(logits.masked_fill(~valid, float("-inf")), -1)
    strided = attention_stats(probs, valid, logits=logits, row_budget=1024)
    # recomputed probabilities: whether the model's own row was NaN shows in its output
    assert (strided["masked_rows"].item(), strided["nan_rows"].item()) == (1, 0)
    # the model's own probabilities: softmax(-inf) made that row NaN
    own = attention_stats(probs, valid, logits=logits, row_budget=1024, materialised=True)
    assert (own["masked_rows"].item(), own["nan_rows"].item()) == (0, 1)
    filled = torch.softmax(logits.masked_fill(~valid, torch.finfo(torch.float32).min), -1)
    own = attention_stats(filled, valid, logits=logits, row_budget=1024, materialised=True)
    assert (own["masked_rows"].item(), own["nan_rows"].item()) == (1, 0)


def test_one_hot_collapse_still_reads_as_collapse_when_strided() -> None:
    probs, valid, logits = _site(scale=200.0)
    strided = attention_stats(probs, valid, logits=logits, row_budget=256)
    assert strided["normalized_entropy"].item() < 0.05
    assert strided["top5"].item() > 0.99


def test_top_k_masses_have_their_own_smaller_budget_and_stay_close() -> None:
    probs, valid, logits = _site()
    exact = attention_stats(probs, valid, logits=logits, row_budget=None)
    small = attention_stats(probs, valid, logits=logits, topk_budget=128)
    for name in ("top5", "top10", "top50"):
        assert small[name].item() != exact[name].item(), name  # estimated on fewer rows
        assert math.isclose(small[name].item(), exact[name].item(), rel_tol=0.05), name
    for name in EXACT_EVERYWHERE:
        assert small[name].item() == exact[name].item(), name


def test_top50_is_the_row_mass_when_a_row_has_at_most_50_keys() -> None:
    g = torch.Generator().manual_seed(1)
    probs = torch.softmax(torch.randn(16, 4, 40, 40, generator=g), -1)
    valid = torch.ones(1, 1, 1, 40, dtype=torch.bool)
    out = attention_stats(probs, valid, topk_budget=8)
    assert out["top50"].item() == out["mass"].item()
    assert out["top10"].item() < out["top50"].item()


def test_strides_above_the_query_length_still_visit_every_query_position() -> None:
    # causal and uniform: a row's entropy is log(its number of keys), so a sample of one
    # query position (the old grid of a stride >= Lq) would miss the mean by far
    lq = 15
    valid = ~torch.ones(lq, lq, dtype=torch.bool).triu(1)[None, None]
    probs = torch.softmax(torch.zeros(64, 4, lq, lq).masked_fill(~valid, float("-inf")), -1)
    exact = sum(math.log(q + 1) for q in range(1, lq)) / (lq - 1)
    out = attention_stats(probs, valid, row_budget=128, topk_budget=64)
    assert math.isclose(out["entropy"].item(), exact, rel_tol=0.03)
    assert math.isclose(out["normalized_entropy"].item(), 1.0, rel_tol=1e-5)
    top5 = sum(min(5, q + 1) / (q + 1) for q in range(1, lq)) / (lq - 1)
    assert math.isclose(out["top5"].item(), top5, rel_tol=0.05)


def test_nonfinite_flags_nan_and_inf_but_not_huge_finite_values() -> None:
    huge = torch.full((4, 8), 3e38)
    assert not nonfinite(huge, torch.zeros(3)).item()
    for bad in (math.nan, math.inf, -math.inf):
        x = huge.clone()
        x[2, 5] = bad
        assert nonfinite(torch.zeros(3), x).item(), bad
    half = torch.ones(5, dtype=torch.float16)
    half[0] = math.inf
    assert nonfinite(half).item()


def test_relative_variance_without_a_mask_is_the_masked_value_with_every_position() -> None:
    g = torch.Generator().manual_seed(2)
    x = torch.randn(4, 20, 16, generator=g) + 3.0
    every = torch.ones(4, 20, dtype=torch.bool)
    assert math.isclose(
        relative_variance(x, 1).item(), relative_variance(x, 1, every).item(), rel_tol=1e-5
    )
    assert relative_variance(torch.ones(4, 20, 16), 1).item() == 0.0
