"""Each model family: healthy models stay silent, each pathology is reported at its site."""

from __future__ import annotations

import math

import pytest
import torch
from guard_models import FAMILIES, Family, constant_encoder, first_output, nan_input

from attnlint.guard import AttentionGuard, GuardConfig, GuardError

IDS = [f.name for f in FAMILIES]


def run_step(fam: Family, model: torch.nn.Module, args: tuple, kwargs: dict, **cfg):
    guard = AttentionGuard(model, config=GuardConfig(on_violation="log", **cfg))
    try:
        out = first_output(guard(*args, **kwargs))
        return guard, guard.step(loss=out.nansum())
    finally:
        guard.close()


def checks_at(report, check: str) -> set[str]:
    return {v.site for v in report.violations if v.check == check}


@pytest.mark.parametrize("fam", FAMILIES, ids=IDS)
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_healthy_model_is_silent(fam: Family, train: bool) -> None:
    model = fam.make().train(train)
    args, kwargs = fam.batch()
    _, report = run_step(fam, model, args, kwargs)
    assert report.violations == []
    assert fam.site in report.layers
    st = report.layers[fam.site]
    assert 0.5 < st.normalized_entropy <= 1.0
    assert st.mass == pytest.approx(1.0, abs=1e-5)
    assert st.nan_rows == 0
    assert st.input_variance > 1e-3


@pytest.mark.parametrize("fam", FAMILIES, ids=IDS)
def test_one_hot_collapse_is_reported_at_the_site(fam: Family) -> None:
    model = fam.make()
    fam.one_hot(model)
    args, kwargs = fam.batch()
    _, report = run_step(fam, model, args, kwargs)
    assert fam.site in checks_at(report, "attention_entropy")
    st = report.layers[fam.site]
    assert st.normalized_entropy < 0.1
    assert st.max_row_weight > 0.9
    assert st.logit_saturation > 0.5


@pytest.mark.parametrize("fam", FAMILIES, ids=IDS)
def test_constant_encoder_is_reported_at_the_site(fam: Family) -> None:
    model = fam.make()
    constant_encoder(fam, model)
    args, kwargs = fam.batch()
    _, report = run_step(fam, model, args, kwargs)
    assert fam.site in checks_at(report, "encoder_variance")
    assert report.layers[fam.site].input_variance <= 1e-8


@pytest.mark.parametrize("fam", FAMILIES, ids=IDS)
def test_nan_input_names_the_first_site(fam: Family) -> None:
    model = fam.make()
    args, kwargs = nan_input(*fam.batch())
    _, report = run_step(fam, model, args, kwargs)
    finite = [v for v in report.violations if v.check == "finite_scores"]
    assert finite, report.violations
    # the first attention site in execution order, and the message says where it came from
    assert finite[0].site == fam.site
    assert "model input" in finite[0].message


@pytest.mark.parametrize("fam", FAMILIES, ids=IDS)
def test_fully_masked_row_is_reported_where_it_made_nan(fam: Family) -> None:
    """A row with no valid key is an error only where the model's own output went NaN;
    where the model handled it finitely (SDPA and MHA in training give 0 rows on this
    torch), it is the masked_rows statistic and nothing else."""
    model = fam.make()
    args, kwargs = fam.mask_all(*fam.batch())
    _, report = run_step(fam, model, args, kwargs)
    st = report.layers[fam.site]
    out = first_output(model(*args, **kwargs))
    if torch.isnan(out).any():
        found = {(v.check, v.site) for v in report.violations}
        assert found & {("attention_mass", fam.site), ("finite_scores", fam.site)}, found
        assert all(v.severity == "error" for v in report.violations)
    else:
        assert report.violations == []
        assert st.masked_rows > 0 and st.nan_rows == 0


class FilledCausal(torch.nn.Module):
    """Hand-written masked softmax with a finite fill, as BERT does (finfo.min)."""

    def __init__(self, fill: float) -> None:
        super().__init__()
        self.fill = fill
        self.qk = torch.nn.Linear(4, 8)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        q, k = self.qk(x).chunk(2, -1)
        scores = (q @ k.transpose(-1, -2)) / 2.0
        scores = scores.masked_fill(~keep[:, None, :], self.fill)
        return torch.softmax(scores, dim=-1) @ x


@pytest.mark.parametrize(
    ("fill", "nan"), [(-1e9, False), (torch.finfo(torch.float32).min, False), (-math.inf, True)]
)
def test_finite_fill_is_a_statistic_and_minus_inf_is_a_nan_row(fill: float, nan: bool) -> None:
    torch.manual_seed(0)
    x = torch.randn(3, 5, 4)
    keep = torch.ones(3, 5, dtype=torch.bool)
    keep[1] = False  # an all-padding item
    guard = AttentionGuard(FilledCausal(fill), config=GuardConfig(on_violation="raise"))
    try:
        if nan:
            with pytest.raises(GuardError) as info:
                guard(x, keep)
                guard.step()
            assert ("attention_mass", "root") in {(v.check, v.site) for v in info.value.violations}
        else:
            guard(x, keep)
            report = guard.step()
            assert report.violations == []
            assert report.layers["root"].masked_rows == 5
            assert report.layers["root"].nan_rows == 0
    finally:
        guard.close()


@pytest.mark.parametrize("fam", FAMILIES, ids=IDS)
def test_constant_relevance_is_reported(fam: Family) -> None:
    model = fam.make()
    args, kwargs = fam.batch()
    guard = AttentionGuard(model, config=GuardConfig(on_violation="raise"))
    out = first_output(guard(*args, **kwargs))
    guard.check_scores(out)
    rel = torch.arange(out.numel(), dtype=torch.float).reshape(out.shape[0], -1)
    rel[1] = 3.0  # one list whose items are all equally relevant
    guard.check_relevance(rel)
    with pytest.raises(GuardError) as info:
        guard.step()
    guard.close()
    (v,) = info.value.violations
    assert v.check == "relevance"
    assert v.value == pytest.approx(1 / rel.shape[0])
    assert "relevance" in v.message and v.severity == "error"
    assert v.hint is not None and "attnlint docs" in v.hint


def test_relevance_statistics_and_masks() -> None:
    fam = FAMILIES[0]
    guard = AttentionGuard(fam.make(), config=GuardConfig(on_violation="log"))
    rel = torch.tensor([[3.0, 1.0, 0.0, 9.0], [2.0, 2.0, 5.0, 5.0]])
    mask = torch.tensor([[True, True, True, False], [True, True, False, False]])
    guard.check_relevance(rel, mask=mask)
    scores = torch.tensor([[0.5, float("-inf")], [1.0, 2.0]])
    guard.check_scores(scores, mask=torch.tensor([[True, False], [True, True]]))
    report = guard.step()
    guard.close()
    b = report.batch
    assert b.list_count == 2 and b.list_len_min == 2 and b.list_len_max == 3
    assert b.rel_max == 3.0 and b.rel_min == 0.0  # the masked 9.0 and 5.0 do not count
    assert b.degenerate_list_share == pytest.approx(0.5)  # the second list is constant (2, 2)
    assert b.score_nonfinite == 0 and b.score_min == 0.5  # masked -inf is padding, not a bug
    assert [v.check for v in report.violations] == ["relevance"]


def test_check_scores_reports_nan() -> None:
    guard = AttentionGuard(FAMILIES[0].make(), config=GuardConfig(on_violation="log"))
    guard.check_scores(torch.tensor([1.0, float("nan"), 2.0]))
    report = guard.step()
    guard.close()
    (v,) = report.violations
    assert (v.check, v.site, v.value) == ("finite_scores", "scores", 1.0)
    assert report.batch.score_nonfinite == 1


def test_exact_uniform_attention_is_an_error_from_the_first_step() -> None:
    fam = FAMILIES[1]
    model = fam.make()
    with torch.no_grad():  # zero query projections: exactly uniform attention
        for layer in model.encoder.layers:
            layer.self_attn.in_proj_weight[:16].zero_()
            layer.self_attn.in_proj_bias[:16].zero_()
    args, kwargs = fam.batch()
    _, report = run_step(fam, model, args, kwargs)
    (v,) = [v for v in report.violations if v.site == fam.site]
    assert (v.check, v.severity) == ("uniform_attention", "error")
    assert report.layers[fam.site].uniform_gap <= 1e-4


def test_near_uniform_attention_warns_only_after_warmup_and_patience() -> None:
    """Attention that stays where a fresh model starts (H ~ 1, not exactly uniform)."""
    fam = FAMILIES[1]
    model = fam.make()
    with torch.no_grad():
        for layer in model.encoder.layers:
            layer.self_attn.in_proj_weight[:16] *= 0.01
    cfg = GuardConfig(on_violation="log", entropy_warmup_steps=3, entropy_high_patience=2)
    guard = AttentionGuard(model, config=cfg)
    args, kwargs = fam.batch()
    fired = []
    for _ in range(6):
        guard(*args, **kwargs)
        report = guard.step()
        fired.append({v.severity for v in report.violations if v.site == fam.site})
    guard.close()
    assert report.layers[fam.site].uniform_gap > 1e-4  # not exact: only the warning applies
    # steps 0-2 warm-up, step 3 starts the streak, step 4 completes a streak of 2
    assert fired == [set(), set(), set(), set(), {"warning"}, {"warning"}]


def test_mass_lost_to_soft_masked_keys_is_reported() -> None:
    """The seed's collapse: logits outgrow a finite additive mask, padding takes the mass."""
    torch.manual_seed(0)
    mha = torch.nn.MultiheadAttention(4, 1, batch_first=True)
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.cat([torch.eye(4)] * 3))
        mha.in_proj_bias.zero_()
    keys = torch.randn(2, 5, 4)
    keys[:, 0] = torch.tensor([1e5, 0.0, 0.0, 0.0])  # a padded key with an exploded norm
    query = torch.tensor([1.0, 0.0, 0.0, 0.0]).expand(2, 1, 4)
    soft = torch.zeros(2, 5)
    soft[:, 0] = -1e4  # "masked" with a finite value that the logit (5e4) outgrows
    guard = AttentionGuard(mha, config=GuardConfig(on_violation="log"))
    guard(query, keys, keys, key_padding_mask=soft)
    report = guard.step()
    guard.close()
    st = report.layers["root"]
    assert st.mass < 1e-6 and st.nan_rows == 0
    assert checks_at(report, "attention_mass") == {"root"}
