"""Site discovery: stock modules, torch.fx in user code, run-time interception fallback."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from guard_models import FAMILIES
from torch import Tensor, nn

from attnlint.guard import AttentionGuard, GuardConfig
from attnlint.guard.sites import (
    HOW_DYN_SOFTMAX,
    HOW_ENCODER,
    HOW_EXPECTED,
    HOW_FX,
    HOW_MHA,
)


class TwoSoftmax(nn.Module):
    """Traceable: one attention softmax and one softmax over class logits (not attention)."""

    def __init__(self, d: int = 8) -> None:
        super().__init__()
        self.q = nn.Linear(d, d)
        self.k = nn.Linear(d, d)
        self.cls = nn.Linear(d, 3)

    def forward(self, x: Tensor) -> Tensor:
        a = torch.softmax(self.q(x) @ self.k(x).transpose(-1, -2) / math.sqrt(8), dim=-1)
        h = a @ x
        return F.softmax(self.cls(h), dim=-1)


class Stack(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([TwoSoftmax(), TwoSoftmax()])

    def forward(self, x: Tensor) -> Tensor:
        for b in self.blocks:
            x = x + b(x).sum(-1, keepdim=True)
        return x


class Branchy(nn.Module):
    """Untraceable (branches on a tensor value), two attention softmaxes in its own code."""

    def forward(self, x: Tensor) -> Tensor:
        a = torch.softmax(x @ x.transpose(-1, -2), dim=-1)
        if x.sum() > 0:
            x = x * 2
        b = (x @ x.transpose(-1, -2)).softmax(-1)
        return a @ x + b @ x


def test_sites_of_each_family() -> None:
    expected = {
        "set": ({"attention.mha": HOW_MHA}, {"attention"}),
        "encoder": (
            {f"encoder.layers.{i}.self_attn": HOW_ENCODER for i in range(2)},
            set(),
        ),
        "sdpa": ({"block": HOW_FX}, set()),
    }
    for fam in FAMILIES:
        if fam.name not in expected:
            continue
        guard = AttentionGuard(fam.make())
        sites, untraceable = expected[fam.name]
        assert guard.sites == sites, fam.name
        assert set(guard.untraceable) == untraceable, fam.name
        guard.close()


def test_fx_tells_attention_softmax_from_other_softmax() -> None:
    torch.manual_seed(0)
    model = Stack()
    guard = AttentionGuard(model, config=GuardConfig(on_violation="raise"))
    assert guard.sites == {"blocks.0": HOW_FX, "blocks.1": HOW_FX}
    guard(torch.randn(2, 5, 8))
    report = guard.step()
    guard.close()
    assert set(report.layers) == {"blocks.0", "blocks.1"}
    assert report.layers["blocks.0"].n_valid == 5  # the [.., 5, 5] attention, not 3 classes


def test_untraceable_module_degrades_to_interception() -> None:
    model = Branchy()
    guard = AttentionGuard(model, config=GuardConfig(on_violation="log"))
    # known up front from forward's source, confirmed by the first sampled forward
    assert guard.sites == {"root": HOW_EXPECTED, "root[1]": HOW_EXPECTED}
    assert "root" in guard.untraceable
    x = torch.randn(2, 4, 3)
    out = guard(x)
    report = guard.step()
    guard.close()
    plain = model(x)
    assert torch.equal(out, plain)
    assert guard.sites == {"root": HOW_DYN_SOFTMAX, "root[1]": HOW_DYN_SOFTMAX}
    assert set(report.layers) == {"root", "root[1]"}


def test_hugging_face_bert_eager_and_sdpa() -> None:
    transformers = pytest.importorskip("transformers")
    cfg = transformers.BertConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
    )
    ids = torch.randint(0, 50, (2, 7), generator=torch.Generator().manual_seed(0))
    mask = torch.ones(2, 7, dtype=torch.long)
    mask[1, 4:] = 0
    for impl in ("eager", "sdpa"):
        cfg._attn_implementation = impl
        torch.manual_seed(0)
        model = transformers.BertModel(cfg).train()
        twin = copy.deepcopy(model)
        torch.manual_seed(1)
        plain = twin(input_ids=ids, attention_mask=mask).last_hidden_state
        guard = AttentionGuard(model, config=GuardConfig(on_violation="raise"))
        torch.manual_seed(1)
        out = guard(input_ids=ids, attention_mask=mask).last_hidden_state
        report = guard.step()
        guard.close()
        assert torch.equal(plain, out), impl
        names = set(report.layers)
        assert names == {
            "encoder.layer.0.attention.self",
            "encoder.layer.1.attention.self",
        }, (impl, names)
        st = report.layers["encoder.layer.0.attention.self"]
        # item 0: 7 valid keys for 7 rows; item 1: 4 valid keys for all its 7 rows
        assert st.n_valid == pytest.approx((7 * 7 + 7 * 4) / 14), impl
        assert st.mass == pytest.approx(1.0, abs=1e-5) and st.nan_rows == 0
