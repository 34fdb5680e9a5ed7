"""Each observer alone: a bare Context, one kind of site, no AttentionGuard."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from attnlint.guard.config import GuardConfig
from attnlint.guard.observe import Installed
from attnlint.guard.observers import (
    Context,
    EncoderLayerObserver,
    MHAObserver,
    ResidualObserver,
    RootObserver,
    ScopeObserver,
)
from attnlint.guard.sites import Scope


def _ctx() -> Context:
    ctx = Context(GuardConfig(), {}, torch.device("cpu"))
    ctx.capturing = True
    return ctx


def _read(ctx: Context) -> dict:
    return ctx.collector.read()


def test_mha_observer_records_inputs_and_output_of_its_site_only() -> None:
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    ctx = _ctx()
    inst = Installed()
    MHAObserver(ctx, {"attn": mha}).install(inst)
    q, kv = torch.randn(5, 1, 8), torch.randn(5, 7, 8)
    kpm = torch.zeros(5, 7, dtype=torch.bool)
    kpm[:, 5:] = True
    mha(q, kv, kv, key_padding_mask=kpm)
    values = _read(ctx)
    assert [r.site for r in ctx.collector.records] == ["attn"]
    assert values[("attn", "n_valid")] == pytest.approx(5.0)  # padding keys never count
    assert values[("attn", "mass")] == pytest.approx(1.0, abs=1e-5)
    assert values[("attn", "bad_in")] == 0.0 and values[("attn", "bad_out")] == 0.0
    assert values[("attn", "pooled_variance")] > 0  # one query per item: pooling
    ctx.capturing = False
    ctx.new_step()
    mha(q, kv, kv)
    assert ctx.collector.records == []  # not capturing: nothing observed
    inst.remove()
    assert not mha._forward_pre_hooks and not mha._forward_hooks


def test_encoder_layer_observer_keeps_the_layer_untouched_and_measures_its_update() -> None:
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True, dropout=0.0)
    x = torch.randn(3, 6, 8)
    expected = layer(x)
    ctx = _ctx()
    inst = Installed()
    EncoderLayerObserver(ctx, {"enc": layer}).install(inst)
    assert torch.equal(layer(x), expected)
    values = _read(ctx)
    assert [r.site for r in ctx.collector.records] == ["enc.self_attn"]
    ratio = ((expected - x).norm() / x.norm()).item()
    assert values[("enc.self_attn", "residual_ratio")] == pytest.approx(ratio, rel=1e-5)
    assert 0 < values[("enc.self_attn", "normalized_entropy")] <= 1
    inst.remove()
    assert "forward" not in layer.__dict__


def test_residual_observer_gives_the_ratio_to_the_site_recorded_inside_its_block() -> None:
    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.f = nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + self.f(x)

    block = Block()
    ctx = _ctx()
    ctx.collector.record("blk.attn")  # a site that ran inside the block
    inst = Installed()
    ResidualObserver(ctx, {"blk": block}).install(inst)
    x = torch.randn(2, 3, 4)
    y = block(x)
    expected = ((y - x).norm() / x.norm()).item()
    assert _read(ctx)[("blk.attn", "residual_ratio")] == pytest.approx(expected, rel=1e-5)
    inst.remove()
    assert "forward" not in block.__dict__ and not block._forward_hooks  # as it was


class Hand(nn.Module):
    """Hand-written attention: softmax(q @ k^T) and an SDPA call in the module's own code."""

    def __init__(self) -> None:
        super().__init__()
        self.q = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = torch.softmax(self.q(x) @ x.transpose(-1, -2) / math.sqrt(8), dim=-1) @ x
        b = F.scaled_dot_product_attention(x[:, None], x[:, None], x[:, None], is_causal=True)
        return a + torch.softmax(x, dim=0) + b[:, 0]  # a softmax over dim 0 is no site


def test_scope_observer_finds_runtime_sites_of_an_untraceable_scope() -> None:
    torch.manual_seed(0)
    hand = Hand()
    ctx = _ctx()
    inst = Installed()
    obs = ScopeObserver(ctx, {"h": Scope("h", hand, traced=False)}, {id(hand): "h"})
    obs.install(inst)
    x = torch.randn(2, 5, 8)
    hand(x)
    values = _read(ctx)
    assert [r.site for r in ctx.collector.records] == ["h", "h[1]"]
    assert ctx.sites["h"].startswith("untraceable module: softmax")
    assert ctx.sites["h[1]"].startswith("untraceable module: F.scaled_dot_product_attention")
    assert values[("h[1]", "mass")] == pytest.approx(1.0, abs=1e-5)
    inst.remove()
    assert "forward" not in hand.__dict__


def test_root_observer_opens_and_closes_the_capture_and_counts_bad_unsampled_calls() -> None:
    lin = nn.Linear(3, 2)
    ctx = _ctx()
    ctx.capturing = False
    inst = Installed()
    root = RootObserver(ctx, lin)
    root.install(inst)
    x = torch.randn(4, 3)
    lin(x)  # sampled step: the capture opens and closes around the forward
    assert not ctx.capturing and root.captured
    values = _read(ctx)
    assert values[("", "input_bad")] == 0.0 and values[("", "output_bad")] == 0.0
    assert values[("", "input_max")] == pytest.approx(x.max().item())
    ctx.new_step()
    ctx.sample_now = False
    root.captured = False
    bad = x.clone()
    bad[0, 0] = math.nan
    lin(bad)
    lin(x)
    lin(bad)
    assert ctx.collector.records == [] and ctx.cheap.counts["output"].item() == 2.0
    inst.remove()


def test_stashed_arguments_are_detached_in_plain_containers_only() -> None:
    from collections import namedtuple

    from attnlint.guard.observers.base import _detached

    w = torch.ones(3, requires_grad=True)
    y = w * 2
    pair = namedtuple("pair", "a b")(y, 1)
    got = _detached(((y, [y]), {"k": y}, pair, None))
    (t, (inner,)), d, kept, none = got
    assert not t.requires_grad and not inner.requires_grad and not d["k"].requires_grad
    assert torch.equal(t, y) and t.data_ptr() == y.data_ptr()  # a view, not a copy
    assert kept is pair and none is None  # a named tuple cannot be rebuilt from a generator
