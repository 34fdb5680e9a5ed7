"""The einsum specs AL401 takes for a query-key product, and the value products it must not."""

from __future__ import annotations

import libcst as cst
import pytest

from attnlint.lint.qkshapes import is_qk_einsum


@pytest.mark.parametrize(
    "spec",
    [
        "bhid,bhjd->bhij",
        "bqhd,bkhd->bhqk",
        "...id,...jd->...ij",
        "bci,bcj->bij",  # channels first: [B, C, N] convolutional attention
        "b c i, b c j -> b i j",
        "bhci,bhcj->bhij",
    ],
)
def test_query_key_products(spec: str) -> None:
    assert is_qk_einsum(cst.SimpleString(repr(spec)))


@pytest.mark.parametrize(
    "spec",
    [
        "bhij,bhjd->bhid",  # probabilities times values
        "bcij,bcjk->bcik",  # a chain of matrix products
        "bci,bcj->bji",  # the output's axes in k-then-q order
        "bci,bdj->bij",  # nothing shared is contracted
    ],
)
def test_other_products(spec: str) -> None:
    assert not is_qk_einsum(cst.SimpleString(repr(spec)))
