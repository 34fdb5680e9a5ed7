"""AL402 and masks built with a constant column: silent only when the fill never masks it."""

from __future__ import annotations

import pytest

from attnlint.lint.engine import analyse
from attnlint.lint.rules import all_rules

_TEMPLATE = """
import torch
import torch.nn.functional as F


def attend(q, k, v, keep, pad, scale):
    b = q.shape[0]
    {build}
    attn = (q @ k.transpose(-2, -1)) * scale
    attn = attn.masked_fill(({mask})[:, None, None, :], float("-inf"))
    return attn.softmax(dim=-1) @ v
"""


def _codes(build: str, mask: str) -> list[str]:
    source = _TEMPLATE.format(build=build, mask=mask)
    found = analyse(source, "attend.py", rules=[all_rules()["AL402"]])
    return [d.code for d in found.diagnostics]


@pytest.mark.parametrize(
    ("build", "mask"),
    [
        ("m = torch.cat([torch.ones(b, 1, dtype=torch.bool), keep], dim=1)", "~m"),
        ("m = torch.cat([torch.zeros(b, 1, dtype=torch.bool), pad], dim=1)", "m"),
        ("m = torch.cat((keep.new_ones(b, 1), keep), 1)", "m == 0"),
        ("m = F.pad(pad, (1, 0), value=False)", "m"),
        ("m = torch.cat([torch.full((b, 1), True), keep], dim=-1)", "~m"),
    ],
)
def test_a_column_the_fill_never_masks(build: str, mask: str) -> None:
    assert _codes(build, mask) == []


@pytest.mark.parametrize(
    ("build", "mask"),
    [
        # the constant column is the masked value: every key of a row can still be masked
        ("m = torch.cat([torch.zeros(b, 1, dtype=torch.bool), keep], dim=1)", "~m"),
        ("m = F.pad(pad, (1, 0), value=True)", "m"),
        ("m = torch.cat([keep, keep], dim=1)", "~m"),
        ("m = keep", "~m"),
    ],
)
def test_a_row_can_still_be_masked_whole(build: str, mask: str) -> None:
    assert _codes(build, mask) == ["AL402"]
