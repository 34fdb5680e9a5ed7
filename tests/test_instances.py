"""A layer's ``forward`` is called by the calls of its instances: AL402 decides a ``-inf``
fill of a mask parameter by what those calls pass (``for layer in self.layers: h =
layer(h, keep)``, ``self.block(h, keep)``), as it does for a plain helper."""

from __future__ import annotations

import pytest

from attnlint.lint.engine import lint_source
from attnlint.lint.rules.al402 import MaskedSoftmaxNan

LAYERS = """\
import torch
import torch.nn.functional as F
from torch import nn


class EncoderLayer(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.qkv = nn.Linear(d, 3 * d)

    def forward(self, x, keep):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        s = (q @ k.transpose(-2, -1)) / q.shape[-1] ** 0.5
        s = s.masked_fill(~keep[:, None, :], float("-inf"))
        return s.softmax(-1) @ v


class Encoder(nn.Module):
    def __init__(self, d, depth):
        super().__init__()
        self.cls = nn.Parameter(torch.zeros(1, 1, d))
        {held}

    def forward(self, x, clear):
        h = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1)
        keep = {keep}
        {call}
        return h
"""

LOOP = (
    "self.layers = nn.ModuleList([EncoderLayer(d) for _ in range(depth)])",
    "for layer in self.layers:\n            h = layer(h, keep)",
)
ONE = ("self.block = EncoderLayer(d)", "h = self.block(h, keep)")


@pytest.mark.parametrize(("held", "call"), [LOOP, ONE])
@pytest.mark.parametrize(
    ("keep", "fires"),
    [("F.pad(clear, (1, 0), value=True)", False), ("clear", True)],
)
def test_instance_calls_decide_the_fill(held: str, call: str, keep: str, fires: bool) -> None:
    source = LAYERS.format(held=held, call=call, keep=keep)
    found = [(d.line, d.code) for d in lint_source(source, "encoder.py", [MaskedSoftmaxNan])]
    assert found == ([(14, "AL402")] if fires else []), found


CAUSAL = """\
import torch


def attend(q, k, v, mask=None):
    w = torch.einsum("bhtd,bhsd->bhts", q, k) * q.shape[-1] ** -0.5
    if mask is not None:
        w = w.masked_fill(mask, float("-inf"))
    return torch.einsum("bhts,bhsd->bhtd", w.softmax(dim=-1), v)


class Decoder(torch.nn.Module):
    def __init__(self, n):
        super().__init__()
        self.register_buffer("future", torch.triu(torch.ones(n, n, dtype=torch.bool), 1))

    def forward(self, q, k, v, pad):
        t = q.shape[2]
        y = attend(q, k, v, {mask})
        return y + attend(q, k, v)  # no mask: nothing is filled
"""


@pytest.mark.parametrize(
    ("mask", "fires"),
    [
        ("self.future[:t, :t]", False),  # an attribute bound to triu
        ("torch.triu(torch.ones(t, t, dtype=torch.bool), 1)", False),
        ("pad[:, None, None, :]", True),  # a padding mask can mask a row whole
    ],
)
def test_a_causal_mask_handed_to_the_helper(mask: str, fires: bool) -> None:
    found = lint_source(CAUSAL.format(mask=mask), "dec.py", [MaskedSoftmaxNan])
    assert bool(found) is fires, [(d.line, d.code) for d in found]
