"""The bit-operation masks give exactly what ``torch.where`` and ``masked_fill`` give:
NaN, infinities and signed zeros included, with masks that broadcast, on non-contiguous
values, and for small tensors and other dtypes (the plain operations)."""

from __future__ import annotations

import math

import pytest
import torch

from attnlint.guard.masks import drop_to_neg_inf, keep_or_zero


def _values(dtype: torch.dtype = torch.float32, rows: int = 5) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, rows, 6, generator=g) * 4
    x[0, 0, 0, :4] = torch.tensor([math.nan, math.inf, -math.inf, -0.0])
    x[1, 2, 4, 5] = math.nan
    return x.to(dtype)


def _masks(rows: int = 5) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return [
        torch.ones(rows, 6, dtype=torch.bool).triu(1),  # causal, [L, S]
        torch.ones(rows, 6, dtype=torch.bool).triu(1)[None, None],
        torch.rand(2, 1, 1, 6, generator=g) < 0.5,  # key padding
        torch.rand(2, 3, rows, 6, generator=g) < 0.5,  # full size
    ]


def _bits(t: torch.Tensor) -> torch.Tensor:
    return t.contiguous().view(torch.int32)


@pytest.mark.parametrize("index", range(4))
@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("rows", [5, 1000])  # the plain operations, the bit operations
def test_bit_masks_match_where_and_masked_fill(index: int, transposed: bool, rows: int) -> None:
    x = _values(rows=rows)
    mask = _masks(rows)[index]
    if transposed:  # a view with other strides, as the recomputed scores of SDPA are
        x = x.transpose(0, 1).contiguous().transpose(0, 1)
    keep = keep_or_zero(x, mask)
    assert torch.equal(_bits(keep), _bits(torch.where(mask, x, 0.0)))
    dropped = drop_to_neg_inf(x, mask)
    assert torch.equal(_bits(dropped), _bits(x.masked_fill(mask, -math.inf)))
    assert dropped[mask.expand_as(x)].eq(-math.inf).all()
    assert keep[~mask.expand_as(x)].eq(0).all()
    assert keep[mask.expand_as(x)].isnan().sum() == torch.where(mask, x, 0.0).isnan().sum()


def test_other_dtypes_take_the_plain_operations() -> None:
    x = _values(torch.float16)
    mask = _masks()[0]

    def same(a: torch.Tensor, b: torch.Tensor) -> bool:
        return a.dtype == b.dtype and torch.equal(a.view(torch.int16), b.view(torch.int16))

    assert same(keep_or_zero(x, mask), torch.where(mask, x, 0.0).to(x.dtype))
    assert same(drop_to_neg_inf(x, mask), x.masked_fill(mask, -math.inf))


def test_the_inputs_are_not_changed() -> None:
    x = _values(rows=1000)
    before = _bits(x).clone()
    keep_or_zero(x, _masks(1000)[3])
    drop_to_neg_inf(x, _masks(1000)[3])
    assert torch.equal(_bits(x), before)
