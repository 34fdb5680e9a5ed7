"""Observe, never alter: bit-identical outputs and gradients, no random numbers consumed,
the inference fast path kept, and ``close()`` leaves nothing behind."""

from __future__ import annotations

import copy
import io

import pytest
import torch
from guard_models import FAMILIES, Family, first_output
from torch import nn

from attnlint.guard import AttentionGuard, GuardConfig
from attnlint.guard.observe import Forward

IDS = [f.name for f in FAMILIES]


def _run(model: nn.Module, fam: Family, guard: AttentionGuard | None):
    args, kwargs = fam.batch()
    torch.manual_seed(123)
    out = first_output(model(*args, **kwargs))
    out.square().sum().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    rng = torch.get_rng_state()
    report = guard.step() if guard is not None else None
    return out.detach(), grads, rng, report


def snapshot(model: nn.Module) -> list:
    state = []
    for name, m in model.named_modules():
        state.append(
            (
                name,
                dict(m._forward_hooks),
                dict(m._forward_pre_hooks),
                dict(m._backward_hooks),
                m.__dict__.get("forward"),
                m.training,
            )
        )
    tensors = [(n, t.data_ptr(), t.clone()) for n, t in model.state_dict(keep_vars=True).items()]
    return [state, [(n, p) for n, p, _ in tensors], [t for _, _, t in tensors]]


@pytest.mark.parametrize("fam", FAMILIES, ids=IDS)
def test_train_mode_with_dropout_is_bit_identical(fam: Family) -> None:
    plain = fam.make().train()
    guarded = copy.deepcopy(plain)
    out0, grads0, rng0, _ = _run(plain, fam, None)
    guard = AttentionGuard(guarded, config=GuardConfig(every=1, on_violation="raise"))
    out1, grads1, rng1, report = _run(guarded, fam, guard)
    guard.close()
    assert fam.site in report.layers  # it really observed this step
    assert torch.equal(out0, out1)
    assert grads0.keys() == grads1.keys()
    assert all(torch.equal(grads0[k], grads1[k]) for k in grads0)
    assert torch.equal(rng0, rng1)  # no random number drawn by the guard


@pytest.mark.parametrize("fam", FAMILIES, ids=IDS)
def test_close_leaves_nothing_behind(fam: Family) -> None:
    model = fam.make()
    before = snapshot(model)
    guard = AttentionGuard(model, config=GuardConfig(on_violation="log"))
    args, kwargs = fam.batch()
    first_output(guard(*args, **kwargs)).sum().backward()
    guard.record_grad_norms()
    guard.step()
    model.zero_grad(set_to_none=True)
    guard.close()
    guard.close()  # idempotent
    after = snapshot(model)
    assert before[0] == after[0]
    assert before[1] == after[1]
    assert all(torch.equal(a, b) for a, b in zip(before[2], after[2], strict=True))
    assert not torch._C._is_torch_function_mode_enabled()


@pytest.mark.parametrize("fam", FAMILIES, ids=IDS)
def test_copies_and_pickles_of_a_guarded_model_are_their_own(fam: Family) -> None:
    """An EMA copy (``copy.deepcopy``) or ``torch.save(model)`` taken while the guard is
    attached: the copy computes with its own weights, is not observed, and the guard keeps
    observing the original."""
    model = fam.make().eval()
    guard = AttentionGuard(model, config=GuardConfig(on_violation="log"))
    args, kwargs = fam.batch()
    twin = copy.deepcopy(model)
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    with torch.no_grad():
        for p in twin.parameters():
            p.mul_(-1.0)
        expected = first_output(model(*args, **kwargs))
        for copied in (twin, loaded):
            got = first_output(copied(*args, **kwargs))
            # the twin's weights were negated: an output equal to the original's would
            # mean it ran the original module (the loaded copy has the original's weights)
            assert torch.equal(got, expected) == (copied is loaded)
    report = guard.step()
    assert fam.site in report.layers  # the original still observed, once
    assert not any(isinstance(m.__dict__.get("forward"), Forward) for m in twin.modules())
    guard.close()


def test_installed_while_open() -> None:
    """The snapshot would notice an installed hook or wrapper (so the test above can fail)."""
    fam = FAMILIES[1]
    model = fam.make()
    before = snapshot(model)
    guard = AttentionGuard(model)
    assert snapshot(model)[0] != before[0]
    guard.close()


def _stock_encoder() -> nn.TransformerEncoder:
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, batch_first=True)
    return nn.TransformerEncoder(layer, 2)  # nested-tensor fast path enabled


@pytest.mark.parametrize("padded", [False, True], ids=["dense", "nested"])
def test_eval_fast_path_outputs_are_bit_identical(padded: bool) -> None:
    enc = _stock_encoder().eval()
    x = torch.randn(3, 7, 16)
    kpm = None
    if padded:
        kpm = torch.zeros(3, 7, dtype=torch.bool)
        kpm[0, 5:] = True
        kpm[2, 3:] = True
    with torch.no_grad():
        plain = enc(x, src_key_padding_mask=kpm)
        guard = AttentionGuard(enc, config=GuardConfig(on_violation="raise"))
        guarded = enc(x, src_key_padding_mask=kpm)
        report = guard.step()
        guard.close()
    if padded:
        assert plain.is_nested is False  # the encoder pads its nested result back
    assert torch.equal(plain, guarded)
    st = report.layers["layers.0.self_attn"]
    assert st.observed.startswith("forward wrapper")
    # only the valid keys count: item 0 has 5, item 2 has 3, item 1 has 7
    expected = (5 * 5 + 7 * 7 + 3 * 3) / 15 if padded else 7.0
    assert st.n_valid == pytest.approx(expected)
    assert st.residual_ratio > 0


def test_guard_call_and_model_call_are_both_observed() -> None:
    fam = FAMILIES[2]
    model = fam.make().eval()  # no dropout: two calls must agree
    args, kwargs = fam.batch()
    guard = AttentionGuard(model, config=GuardConfig(on_violation="raise"))
    a = guard(*args, **kwargs)
    r1 = guard.step()
    b = model(*args, **kwargs)
    r2 = guard.step()
    guard.close()
    assert torch.equal(a, b)
    assert r1.layers.keys() == r2.layers.keys() == {fam.site}
    assert r1.layers[fam.site] == r2.layers[fam.site]


def test_eval_fast_path_kernel_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hook on a layer's submodule switches the fused encoder-layer kernel off; the guard's
    forward wrapper must not."""
    calls = []
    fused = torch._transformer_encoder_layer_fwd

    def counted(*args, **kwargs):
        calls.append(1)
        return fused(*args, **kwargs)

    monkeypatch.setattr(torch, "_transformer_encoder_layer_fwd", counted)
    enc = _stock_encoder().eval()
    x = torch.randn(2, 5, 16)
    with torch.no_grad():
        enc(x)
        plain = len(calls)
        handle = enc.layers[0].self_attn.register_forward_pre_hook(lambda *a: None)
        enc(x)
        handle.remove()
        hooked = len(calls) - plain
        guard = AttentionGuard(enc)
        enc(x)
        guarded = len(calls) - plain - hooked
        report = guard.step()
        guard.close()
    assert plain == 2 and hooked == 1  # what a hook would have done
    assert guarded == 2
    assert set(report.layers) == {"layers.0.self_attn", "layers.1.self_attn"}
