"""Every pathology of the diagnostics table and the loss-went-flat chain, injected into stock,
hand-written and Hugging Face models: each reported at its site with its severity; the same
models fresh stay silent."""

from __future__ import annotations

import warnings

import pytest
import torch
from guard_models import FAMILIES, first_output
from guard_zoo import SAGAN, ZOO, HeadsModel, Zoo, output_of

from attnlint.guard import AttentionGuard, GuardConfig, GuardError, GuardWarning
from attnlint.guard.checks import State, evaluate
from attnlint.guard.sites import HOW_EXPECTED
from attnlint.records import AttentionStats

FAM = {f.name: f for f in FAMILIES}


def found(report, check: str) -> dict[str, str]:
    return {v.site: v.severity for v in report.violations if v.check == check}


def steps(guard: AttentionGuard, args: tuple, kwargs: dict, n: int) -> list:
    out = []
    for _ in range(n):
        first_output(output_of(guard(*args, **kwargs)))
        out.append(guard.step())
    return out


@pytest.mark.parametrize("z", ZOO, ids=[z.name for z in ZOO])
def test_fresh_models_are_silent_and_exact_uniformity_is_found(z: Zoo) -> None:
    args, kwargs = z.batch()
    with AttentionGuard(z.make(), config=GuardConfig(on_violation="raise")) as guard:
        (report,) = steps(guard, args, kwargs, 1)
    assert report.violations == []
    st = report.layers[z.site]
    assert st.uniform_gap > 1e-3 and st.sink_mass < 0.5 and st.logit_max < 10
    model = z.make()
    z.zero_query(model)
    with AttentionGuard(model, config=GuardConfig(on_violation="log")) as guard:
        (report,) = steps(guard, args, kwargs, 1)
    assert found(report, "uniform_attention").get(z.site) == "error"


@pytest.mark.parametrize("name", ["bert-eager", "gpt2-sdpa"])
def test_hf_sites_are_listed_at_construction_then_confirmed(name: str) -> None:
    z = next(z for z in ZOO if z.name == name)
    guard = AttentionGuard(z.make(), config=GuardConfig(on_violation="raise"))
    assert guard.sites[z.site] == HOW_EXPECTED and len(guard.sites) == 2
    steps(guard, *z.batch(), 1)
    guard.close()
    assert len(guard.sites) == 2 and HOW_EXPECTED not in guard.sites.values()


def test_bert_all_padding_item_is_a_statistic_not_a_violation() -> None:
    z = next(z for z in ZOO if z.name == "bert-eager")
    _, kwargs = z.batch()
    mask = torch.ones_like(kwargs["input_ids"])
    mask[1] = 0  # BERT fills with finfo.min: finite
    with AttentionGuard(z.make(), config=GuardConfig(on_violation="raise")) as guard:
        (report,) = steps(guard, (), {**kwargs, "attention_mask": mask}, 1)
    assert report.violations == []
    assert report.layers[z.site].masked_rows > 0 and report.layers[z.site].nan_rows == 0


def test_collapse_relative_to_the_baseline() -> None:
    """H 0.9999 -> 0.116 with max row weight 0.895: above the absolute 0.1, still collapse."""
    state, cfg = State(), GuardConfig()

    def at(step: int, ne: float, top: float) -> list:
        st = AttentionStats(observed="x", normalized_entropy=ne, max_row_weight=top)
        kw = {"order": [], "input_bad": False, "output_bad": False, "cheap": {}}
        return evaluate(
            step=step,
            config=cfg,
            layers={"s": st},
            score_nonfinite=None,
            degenerate_share=None,
            cheap_since=0,
            state=state,
            **kw,
        )

    assert all(at(i, 0.9999, 0.12) == [] for i in range(5))
    assert at(5, 0.6, 0.5) == []  # sharper, still healthy
    (v,) = at(6, 0.116, 0.895)
    assert (v.check, v.severity, v.site) == ("attention_entropy", "error", "s")
    assert "attnlint rule AL401" in v.hint


def test_learned_sharp_attention_is_not_a_collapse_unless_its_logits_explode() -> None:
    """A copy head sharpens gradually with moderate logits; a collapse has huge ones."""
    for logit_max, fires in ((17.0, False), (150.0, True)):
        state, cfg = State(), GuardConfig()
        fired = []
        for i, ne in enumerate([0.99, 0.8, 0.5, 0.3, 0.2, 0.12, 0.09, 0.08]):
            st = AttentionStats(
                observed="x", normalized_entropy=ne, max_row_weight=1 - ne, logit_max=logit_max
            )
            kw = {"order": [], "input_bad": False, "output_bad": False, "cheap": {}}
            out = evaluate(
                step=i,
                config=cfg,
                layers={"s": st},
                score_nonfinite=None,
                degenerate_share=None,
                cheap_since=0,
                state=state,
                **kw,
            )
            fired.append(any(v.check == "attention_entropy" for v in out))
        assert fired == [False] * 6 + [fires, fires], logit_max


def _sink_mask(n: int, key: int, bias: float = 8.0) -> torch.Tensor:
    m = torch.zeros(n, n)
    m[:, key] = bias
    return m


class MaskedEncoder(torch.nn.Module):
    """The encoder family with a float attention mask (an additive bias per key)."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = FAM["encoder"].make().eval()

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.inner.encoder(self.inner.embed(x), mask=mask)


SINK_SITE = "inner.encoder.layers.0.self_attn"


def test_sink_is_reported_when_it_forms_moves_or_grows_and_never_stops_a_run() -> None:
    (x,), _ = FAM["encoder"].batch()
    guard = AttentionGuard(MaskedEncoder(), config=GuardConfig(on_violation="raise"))
    seen = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for key, bias in [(0, 0.0), (0, 3.0), (0, 3.0), (3, 3.0), (3, 3.0), (3, 8.0)]:
            guard(x, _sink_mask(x.shape[1], key, bias))
            report = guard.step()  # a warning: never raises by default
            st = report.layers[SINK_SITE]
            seen.append((found(report, "attention_sink").get(SINK_SITE), st.sink_key))
    guard.close()
    assert [s for s, _ in seen] == [None, "warning", None, "warning", None, "warning"]
    assert seen[1][1] == 0 and seen[3][1] == 3
    # once per site (both layers get the mask), later findings only counted
    assert sum(issubclass(w.category, GuardWarning) for w in caught) == 2


def test_sink_on_stock_mha_with_a_float_mask() -> None:
    z = next(z for z in ZOO if z.name == "mha")
    (x,), _ = z.batch()
    with AttentionGuard(z.make(), config=GuardConfig(on_violation="log")) as guard:
        guard(x, attn_mask=_sink_mask(x.shape[1], 2))
        report = guard.step()
    assert found(report, "attention_sink") == {"attn": "warning"}
    assert report.layers["attn"].sink_key == 2 and report.layers["attn"].sink_mass > 0.9


def test_vanishing_and_exploding_residual_updates() -> None:
    fam = FAM["causal"]
    args, kwargs = fam.batch()
    model = fam.make()
    with torch.no_grad():
        model.block.proj.weight.zero_()
        model.block.proj.bias.zero_()
    with AttentionGuard(model, config=GuardConfig(on_violation="log")) as guard:
        reports = steps(guard, args, kwargs, 3)
    assert [found(r, "residual_update") for r in reports] == [{}, {}, {"block": "warning"}]
    model = fam.make()
    with torch.no_grad():
        model.block.proj.weight.mul_(1e5)
    with AttentionGuard(model, config=GuardConfig(on_violation="log")) as guard:
        (report,) = steps(guard, args, kwargs, 1)
    assert found(report, "residual_update") == {"block": "warning"}
    assert report.layers["block"].residual_ratio > 1e3


def test_dead_gpt2_blocks_are_vanishing_updates() -> None:
    """GPT-2's block adds ``residual = hidden_states`` back: read from its source."""
    z = next(z for z in ZOO if z.name == "gpt2-eager")
    model = z.make()
    with torch.no_grad():
        for block in model.h:
            for lin in (block.attn.c_proj, block.mlp.c_proj):
                lin.weight.zero_()
                lin.bias.zero_()
    with AttentionGuard(model, config=GuardConfig(on_violation="log")) as guard:
        reports = steps(guard, *z.batch(), 3)
    assert found(reports[-1], "residual_update") == {"h.0.attn": "warning", "h.1.attn": "warning"}
    with AttentionGuard(z.make(), config=GuardConfig(on_violation="log")) as guard:
        (fresh,) = steps(guard, *z.batch(), 1)
    assert 0.05 < fresh.layers["h.0.attn"].residual_ratio < 1.0


def test_logit_growth_against_the_baseline_then_past_the_divergence_bound() -> None:
    fam = FAM["causal"]
    args, kwargs = fam.batch()
    model = fam.make()
    guard = AttentionGuard(model, config=GuardConfig(on_violation="log"))
    assert all(r.violations == [] for r in steps(guard, args, kwargs, 5))
    with torch.no_grad():
        model.block.qkv.weight[:32] *= 12.0  # logits x144
    (grown,) = steps(guard, args, kwargs, 1)
    with torch.no_grad():
        model.block.qkv.weight[:32] *= 20.0
    (diverging,) = steps(guard, args, kwargs, 1)
    guard.close()
    assert found(grown, "logit_growth") == {"block": "warning"}
    assert found(diverging, "logit_growth") == {"block": "error"}
    assert diverging.layers["block"].logit_max > 1e4


def test_exploding_and_constant_scores() -> None:
    guard = AttentionGuard(FAM["set"].make(), config=GuardConfig(on_violation="log"))
    guard.check_scores(torch.tensor([[1e10, 3.0], [2.0, 1.0]]))
    assert found(guard.step(), "score_scale") == {"scores": "error"}
    constant = []
    for _ in range(3):
        guard.check_scores(torch.full((4, 5), 0.25))
        constant.append(found(guard.step(), "constant_scores"))
    guard.check_scores(torch.randn(4, 5))
    varied = guard.step()
    guard.close()
    # a zero-initialised head is constant once; constant twice in a row is the flat loss
    assert constant == [{}, {"scores": "error"}, {"scores": "error"}]
    assert found(varied, "constant_scores") == {}


def test_gradient_norms_zero_nonfinite_and_spikes() -> None:
    guard = AttentionGuard(FAM["set"].make(), config=GuardConfig(on_violation="log"))

    def with_norms(**norms: float) -> dict:
        guard.record_grad_norms(norms)
        return {(v.check, v.site): v.severity for v in guard.step().violations}

    assert with_norms(total=float("nan"), encoder=1.0) == {("grad_norm", "total"): "error"}
    assert with_norms(total=0.0, encoder=0.0) == {("grad_norm", "total"): "error"}
    assert with_norms(total=1.0, encoder=0.0, scorer=1.0) == {}  # a zero-init gate: once
    assert with_norms(total=1.0, encoder=0.0, scorer=1.0) == {("grad_norm", "encoder"): "warning"}
    assert all(with_norms(total=1.0 + i / 10) == {} for i in range(5))
    assert with_norms(total=50.0) == {("grad_spike", "total"): "warning"}
    guard.close()


def test_gradient_norms_read_from_a_real_backward() -> None:
    fam = FAM["causal"]
    model = fam.make()
    args, kwargs = fam.batch()
    with AttentionGuard(model, config=GuardConfig(on_violation="log")) as guard:
        (first_output(guard(*args, **kwargs)) * 0.0).sum().backward()
        guard.record_grad_norms()
        report = guard.step()
    assert found(report, "grad_norm") == {"total": "error"}


@pytest.mark.parametrize("cls", [HeadsModel, SAGAN], ids=["q-k-4d", "conv-map"])
def test_constant_inputs_of_any_rank(cls: type[torch.nn.Module]) -> None:
    torch.manual_seed(0)
    model = cls()
    x = torch.randn(2, 3, 6, 6) if cls is SAGAN else torch.randn(3, 8, 6)
    first = model.conv if cls is SAGAN else model.embed
    with AttentionGuard(model, config=GuardConfig(on_violation="log")) as guard:
        guard(x)
        healthy = guard.step()
        with torch.no_grad():
            first.weight.zero_()
            first.bias.fill_(0.5)
        guard(x)
        constant = guard.step()
    site = "attn" if cls is SAGAN else "attend"
    assert healthy.violations == [] and healthy.layers[site].input_variance > 1e-3
    assert found(constant, "encoder_variance").get(site) == "error"


def test_policy_per_check_and_per_severity() -> None:
    fam = FAM["encoder"]
    (x,), _ = fam.batch()
    cfg = GuardConfig(on_check={"attention_sink": "raise"})
    with AttentionGuard(MaskedEncoder(), config=cfg) as guard:
        guard(x, _sink_mask(x.shape[1], 0))
        with pytest.raises(GuardError) as info:
            guard.step()
    assert {v.check for v in info.value.violations} == {"attention_sink"}
    model = fam.make()
    with torch.no_grad():
        for layer in model.encoder.layers:
            layer.self_attn.in_proj_weight[:16].zero_()
            layer.self_attn.in_proj_bias[:16].zero_()
    cfg = GuardConfig(on_severity={"error": "log"})
    with AttentionGuard(model, config=cfg) as guard:
        (report,) = steps(guard, (x,), {}, 1)  # logged, not raised; still in the report
    assert found(report, "uniform_attention")


@pytest.mark.parametrize("z", ZOO, ids=[z.name for z in ZOO])
def test_outputs_and_gradients_stay_bit_identical(z: Zoo) -> None:
    args, kwargs = z.batch()

    def run(model: torch.nn.Module) -> tuple[torch.Tensor, list[torch.Tensor]]:
        torch.manual_seed(3)  # the same dropout draws (the guard draws no random number)
        out = output_of(model(*args, **kwargs))
        out.float().square().sum().backward()
        return out.detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]

    plain_out, plain_grads = run(z.make().train())
    model = z.make().train()
    with AttentionGuard(model, config=GuardConfig(on_violation="raise")) as guard:
        out, grads = run(model)
        report = guard.step()
    assert report.layers and report.violations == []
    assert torch.equal(out, plain_out)
    assert len(grads) == len(plain_grads)
    assert all(torch.equal(a, b) for a, b in zip(grads, plain_grads, strict=True))


def test_policy_defaults_overrides_and_counting(caplog: pytest.LogCaptureFixture) -> None:
    from attnlint.guard.checks.common import violation
    from attnlint.guard.policy import Policy

    def finding(check: str, severity: str | None = None, cfg: GuardConfig | None = None):
        return violation(cfg or GuardConfig(), check, "s", 0, 1.0, 0.5, "text", "hint", severity)

    default = Policy(GuardConfig(), GuardError, GuardWarning)
    assert default.action(finding("attention_sink")) == "warn"
    assert default.action(finding("finite_scores")) == "raise"
    assert default.action(finding("grad_spike", "info")) == "log"
    quiet = Policy(GuardConfig(on_violation="log"), GuardError, GuardWarning)
    assert quiet.action(finding("attention_sink")) == "log"
    cfg = GuardConfig(severity={"grad_spike": "error"})
    assert finding("grad_spike", cfg=cfg).severity == "error"
    assert Policy(cfg, GuardError, GuardWarning).action(finding("grad_spike", cfg=cfg)) == "raise"
    ignore = Policy(GuardConfig(on_check={"finite_scores": "ignore"}), GuardError, GuardWarning)
    ignore.handle([finding("finite_scores")])  # ignored: no raise
    with caplog.at_level("WARNING", logger="attnlint.guard"):
        for _ in range(3):
            quiet.handle([finding("attention_sink")])
    assert len([r for r in caplog.records if "[attention_sink]" in r.getMessage()]) == 1
    assert quiet.repeated() == {("attention_sink", "s"): 2}


def test_declared_input_dimension_that_the_data_does_not_have() -> None:
    fam = FAM["set"]
    args, kwargs = fam.batch()  # 6 features
    for declared, expected in ((6, {}), (21, {"input": "error"})):
        with AttentionGuard(fam.make(), config=GuardConfig(on_violation="log")) as guard:
            guard.set_input_dim(declared)
            (report,) = steps(guard, args, kwargs, 1)
        assert found(report, "input_dim") == expected
        assert report.batch.input_dim_seen == 6
