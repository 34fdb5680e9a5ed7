"""diagnose_chain: the first broken link of the seed's chain is named first, with evidence."""

from __future__ import annotations

import math

import pytest

from attnlint.guard.diagnosis import LINKS, diagnose_chain, log_factorial
from attnlint.records import AttentionStats, BatchStats, StepReport, Violation


def healthy_batch(**kw: float) -> BatchStats:
    base = dict(
        list_count=8,
        list_len_min=15,
        list_len_max=15,
        list_len_mean=15,
        rel_min=0.0,
        rel_max=30.0,
        rel_mean=15.0,
        rel_std=8.0,
        degenerate_list_share=0.0,
        score_min=-2.0,
        score_max=3.0,
        score_mean=0.1,
        score_std=1.1,
        score_nonfinite=0,
        input_min=-1.5,
        input_max=4.0,
        input_mean=0.3,
        input_dim=21,
    )
    base.update(kw)
    return BatchStats(**base)


def healthy_attn(**kw: float) -> AttentionStats:
    base = dict(
        observed="recomputed",
        entropy=2.0,
        normalized_entropy=0.74,
        effective_rank=7.4,
        max_row_weight=0.3,
        mass=1.0,
        nan_rows=0,
        n_valid=15.0,
        input_variance=0.8,
    )
    base.update(kw)
    return AttentionStats(**base)


def report(**kw) -> StepReport:
    base = dict(
        step=101,
        loss=20.0,
        layers={"attention.mha": healthy_attn()},
        grad_norms={"total": 0.9, "encoder": 0.5, "attention": 0.3, "scorer": 0.6},
        batch=healthy_batch(),
        output_variance=0.4,
    )
    base.update(kw)
    return StepReport(**base)


def links_of(findings: list[str]) -> list[str]:
    out = []
    for f in findings:
        link = f.split(" (")[0]
        assert link in LINKS, f
        out.append(link)
    return out


def test_seed_flat_loss_is_log_15_factorial() -> None:
    assert log_factorial(15) == pytest.approx(27.8993, abs=5e-5)


def test_healthy_report_has_no_broken_link() -> None:
    findings = diagnose_chain(report(), [20.0] * 20)
    assert len(findings) == 1 and findings[0].startswith("no broken link")


def test_seed_collapse_names_attention_first_with_listmle_evidence() -> None:
    collapsed = report(
        layers={
            "attention.mha": healthy_attn(mass=3e-7, normalized_entropy=None, pooled_variance=1e-12)
        },
        output_variance=1e-12,
        batch=healthy_batch(score_min=0.25, score_max=0.25, score_std=0.0, score_mean=0.25),
    )
    findings = diagnose_chain(collapsed, [27.8993] * 30)
    assert links_of(findings) == [
        "attention collapsed",
        "pooled output constant",
        "scores constant",
    ]
    assert "first broken link" in findings[0] and "3e-07" in findings[0]
    assert "log(15!) = 27.8993" in findings[2]
    assert "itself evidence of constant scores" in findings[2]


def test_loss_at_log_factorial_alone_flags_scores_when_lengths_are_equal() -> None:
    # score statistics missing: the loss level on its own is evidence
    r = report(batch=healthy_batch(score_std=None, score_min=None, score_max=None))
    findings = diagnose_chain(r, [30.0, 28.5, 27.8993, 27.8993, 27.8992])
    assert links_of(findings) == ["scores constant"]


def test_mixed_list_lengths_use_per_list_lengths_when_recorded() -> None:
    lengths = [3, 5, 5, 10]
    expected = sum(math.lgamma(n + 1) for n in lengths) / len(lengths)
    batch = healthy_batch(list_len_min=3, list_len_max=10, score_std=0.0)
    batch = BatchStats(**batch.model_dump(), list_lengths=lengths)
    findings = diagnose_chain(report(batch=batch), [expected] * 5)
    assert f"{expected:.6g}" in findings[0]
    # a loss nowhere near the constant-score value gives no ListMLE evidence
    findings = diagnose_chain(report(batch=batch), [expected + 2.0] * 5)
    assert "ListMLE" not in findings[0]


def test_sum_reduced_listmle_is_recognised() -> None:
    r = report(batch=healthy_batch(score_std=0.0))
    findings = diagnose_chain(r, [8 * log_factorial(15)] * 5)
    assert "sum reduction" in findings[0]


def test_constant_inputs_come_first() -> None:
    r = report(
        layers={"attention.mha": healthy_attn(input_variance=0.0)},
        batch=healthy_batch(input_min=0.0, input_max=0.0, input_mean=0.0, score_std=0.0),
        output_variance=0.0,
    )
    findings = diagnose_chain(r, [1.0] * 5)
    assert links_of(findings)[:2] == ["inputs constant", "encoder constant"]
    assert findings[0].startswith("inputs constant (first broken link)")
    assert "also broken" in findings[1]


def test_encoder_constant_from_site_input_variance() -> None:
    r = report(layers={"enc.attn": healthy_attn(input_variance=1e-12)})
    findings = diagnose_chain(r, [1.0])
    assert links_of(findings) == ["encoder constant"]
    assert "'enc.attn'" in findings[0]


def test_one_hot_attention_is_collapse() -> None:
    r = report(layers={"a": healthy_attn(normalized_entropy=0.01, max_row_weight=0.999)})
    assert links_of(diagnose_chain(r, [1.0])) == ["attention collapsed"]


def test_guard_violations_are_evidence() -> None:
    v = Violation(
        check="relevance",
        site="batch",
        step=101,
        value=0.0,
        bound=2.0,
        message="relevance is constant in 8 of 8 lists",
    )
    findings = diagnose_chain(report(violations=[v]), [1.0])
    assert links_of(findings) == ["relevance degenerate"]
    assert "8 of 8" in findings[0]


def test_degenerate_relevance_share() -> None:
    r = report(batch=healthy_batch(degenerate_list_share=0.75, rel_std=0.0))
    findings = diagnose_chain(r, [1.0])
    assert links_of(findings) == ["relevance degenerate"] and "75%" in findings[0]


def test_vanishing_and_exploding_gradients() -> None:
    r = report(grad_norms={"total": 0.0, "encoder": 0.0})
    assert "vanish" in diagnose_chain(r, [1.0])[0]
    r = report(grad_norms={"total": 5e4, "encoder": 5e4, "attention": 0.0})
    findings = diagnose_chain(r, [1.0])
    assert links_of(findings) == ["gradients vanishing or clipped away"]
    assert "clipped away" in findings[0] and "'attention'" in findings[0]


def test_loss_fn_self_test_failures_are_a_link() -> None:
    import torch

    def clamped_listmle(scores, rel, mask):
        s = scores.clamp(-50.0, 50.0)
        order = rel.masked_fill(~mask, float("-inf")).argsort(-1, descending=True)
        s, m = s.gather(-1, order), mask.gather(-1, order)
        s = s.masked_fill(~m, float("-inf"))
        suffix = torch.logcumsumexp(s.flip(-1), -1).flip(-1)
        return torch.where(m, suffix - s, torch.zeros_like(s)).sum(-1).mean()

    findings = diagnose_chain(report(), [1.0], loss_fn=clamped_listmle)
    assert links_of(findings) == ["loss function"]
    assert "shift invariance" in findings[0]


def test_real_guard_plateau_triggers_the_chain_diagnosis() -> None:
    """A scorer frozen at a constant: ListMLE sits at log(15!) and the diagnosis says why."""
    import torch
    from torch import nn

    import attnlint.guard.core  # noqa: F401
    from attnlint.guard import AttentionGuard, GuardConfig

    class Ranker(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn.Linear(4, 16)
            self.attention = nn.MultiheadAttention(16, 2, batch_first=True)
            self.scorer = nn.Linear(16, 1)
            nn.init.zeros_(self.scorer.weight)  # every item gets the same score

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            z = self.encoder(x)
            h, _ = self.attention(z, z, z, need_weights=False)
            return self.scorer(h + z).squeeze(-1)

    def listmle(scores: torch.Tensor, rel: torch.Tensor) -> torch.Tensor:
        s = scores.gather(-1, rel.argsort(-1, descending=True))
        return (torch.logcumsumexp(s.flip(-1), -1).flip(-1) - s).sum(-1).mean()

    torch.manual_seed(0)
    model = Ranker()
    model.scorer.weight.requires_grad_(False)
    guard = AttentionGuard(
        model,
        config=GuardConfig(every=1, on_violation="log", plateau_patience=3),
        loss_fn=listmle,
    )
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    diagnoses = []
    for _ in range(6):
        x, rel = torch.randn(8, 15, 4), torch.rand(8, 15)
        scores = model(x)
        guard.check_scores(scores)
        guard.check_relevance(rel)
        loss = listmle(scores, rel)
        opt.zero_grad()
        loss.backward()
        guard.record_grad_norms()
        opt.step()
        report = guard.step(loss=loss)
        diagnoses.append(report.diagnosis)
    guard.close()
    assert loss.item() == pytest.approx(log_factorial(15), rel=1e-6)
    # losses at steps 0..3: the 3rd stale update (step 3) fires; step 4 is diagnosed
    assert [bool(d) for d in diagnoses] == [False, False, False, False, True, False]
    first = diagnoses[4][0]
    assert first.startswith("scores constant (first broken link)"), diagnoses[4]
    assert "log(15!) = 27.8993" in first
    # the frozen zero scorer passes no gradient upstream: reported below, not blamed
    assert any(d.startswith("gradients vanishing") for d in diagnoses[4][1:])
