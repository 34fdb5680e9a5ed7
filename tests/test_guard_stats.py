"""The row budget of attention_stats: exact below it, a close estimate above it."""

from __future__ import annotations

import math

import torch

from attnlint.guard.stats import attention_stats

EXACT_EVERYWHERE = ("mass", "mass_min", "nan_rows", "n_valid", "max_row_weight", "max_col_sum")


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
    same = attention_stats(probs, valid, logits=logits, row_budget=probs.shape[:3].numel())
    for name, value in exact.items():
        assert torch.equal(value, same[name]) or (value.isnan() and same[name].isnan()), name


def test_above_the_budget_row_means_are_estimated_closely_and_the_rest_is_exact() -> None:
    probs, valid, logits = _site()
    exact = attention_stats(probs, valid, logits=logits, row_budget=None)
    strided = attention_stats(probs, valid, logits=logits, row_budget=1024)  # stride 3
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
