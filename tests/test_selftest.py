"""selftest_listwise_loss: a correct ListMLE, the seed's buggy variants, a non-listwise loss."""

from __future__ import annotations

import torch

from attnlint.guard.selftest import selftest_listwise_loss


def listmle(scores: torch.Tensor, rel: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Correct masked ListMLE: sort by relevance, sum over positions of
    logsumexp(remaining scores) - score; padded items sort last and are excluded."""
    rel = rel.masked_fill(~mask, float("-inf"))
    order = rel.argsort(dim=-1, descending=True)
    s = scores.gather(-1, order)
    m = mask.gather(-1, order)
    s = s.masked_fill(~m, float("-inf"))
    # logsumexp over the suffix s[i:], computed as a reversed cumulative logsumexp
    suffix = torch.logcumsumexp(s.flip(-1), dim=-1).flip(-1)
    terms = torch.where(m, suffix - s, torch.zeros_like(s))
    return terms.sum(dim=-1).mean()


def listmle_clamped(scores, rel, mask):  # the seed's loss: clamp to [-50, 50]
    return listmle(scores.clamp(-50.0, 50.0), rel, mask)


def listmle_nan_to_num(scores, rel, mask):  # the seed's training loop: nan_to_num first
    return listmle(torch.nan_to_num(scores), rel, mask)


def listmle_no_mask(scores, rel, mask):  # takes a mask, never applies it
    return listmle(scores, rel, torch.ones_like(mask))


def listmle_naive_exp(scores, rel, mask):  # exp() without the max shift overflows
    order = rel.masked_fill(~mask, float("-inf")).argsort(dim=-1, descending=True)
    s = scores.gather(-1, order)
    m = mask.gather(-1, order)
    e = torch.where(m, s.exp(), torch.zeros_like(s))
    suffix = e.flip(-1).cumsum(-1).flip(-1)
    terms = torch.where(m, suffix.log() - s, torch.zeros_like(s))
    return terms.sum(-1).mean()


def mse(scores, rel):
    return ((scores - rel) ** 2).mean()


def test_correct_listmle_passes() -> None:
    result = selftest_listwise_loss(listmle)
    assert result.ok, result.failures
    assert result.failures == [] and result.skipped == []


def test_two_argument_loss_is_called_without_mask_and_padding_checks_skipped() -> None:
    def listmle2(scores, rel):
        return listmle(scores, rel, torch.ones_like(scores, dtype=torch.bool))

    result = selftest_listwise_loss(listmle2)
    assert result.ok, result.failures
    assert any("padded" in s for s in result.skipped)


def test_seed_clamp_breaks_shift_invariance() -> None:
    result = selftest_listwise_loss(listmle_clamped)
    assert not result.ok
    assert any(f.startswith("shift invariance") for f in result.failures), result.failures
    # the clamp is the identity on small scores: nothing else fires
    assert all(f.startswith("shift invariance") for f in result.failures), result.failures


def test_seed_nan_to_num_hides_nan_scores() -> None:
    result = selftest_listwise_loss(listmle_nan_to_num)
    assert [f.split(":")[0] for f in result.failures] == ["NaN propagation"]


def test_missing_mask_is_caught() -> None:
    result = selftest_listwise_loss(listmle_no_mask)
    names = {f.split(":")[0] for f in result.failures}
    assert names == {"padded lists", "padded single item"}, result.failures


def test_unstable_exp_overflows_under_shift() -> None:
    result = selftest_listwise_loss(listmle_naive_exp)
    assert any(f.startswith("shift invariance") for f in result.failures), result.failures


def test_non_listwise_loss_fails_the_listwise_properties() -> None:
    result = selftest_listwise_loss(mse)
    names = {f.split(":")[0] for f in result.failures}
    assert {"shift invariance", "gradient sums", "single item"} <= names


def test_raising_loss_is_a_failure_not_a_crash() -> None:
    def broken(scores, rel, mask):
        raise RuntimeError("shape mismatch")

    result = selftest_listwise_loss(broken)
    assert not result.ok
    assert "RuntimeError: shape mismatch" in result.failures[0]


def test_global_rng_untouched() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    selftest_listwise_loss(listmle, seed=5)
    assert torch.equal(torch.rand(3), expected)


def test_exported_from_guard_package() -> None:
    import attnlint.guard

    assert attnlint.guard.selftest_listwise_loss is selftest_listwise_loss


def test_runs_under_no_grad_and_inference_mode() -> None:
    with torch.no_grad():
        assert selftest_listwise_loss(listmle).ok
    with torch.inference_mode():
        assert selftest_listwise_loss(listmle).ok
