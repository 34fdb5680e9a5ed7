"""The rewritten attention statistics give the previous implementation's values.

Random sites of every kind the guard meets (no mask, key padding, causal, a full mask with
fully masked and one-key rows, NaN rows, padding queries, the model's own probabilities),
small and long rows, with and without a row budget: each statistic matches
``tests/_stats_reference.py`` within float rounding, and the no-mask fast path matches the
general path given an all-true mask.
"""

from __future__ import annotations

import math

import pytest
import torch
from _stats_reference import attention_stats as reference
from torch.utils._python_dispatch import TorchDispatchMode

from attnlint.guard.attnstats import attention_stats

SHAPES = [(33, 2, 1, 15), (4, 2, 8, 8), (2, 3, 7, 64), (2, 2, 5, 120), (3, 1, 4, 1), (2, 2, 6, 3)]
MASKS = ["none", "ones", "keys", "causal", "full"]


def _site(shape: tuple[int, ...], mask: str, seed: int, nan_rows: bool, own: bool) -> dict:
    g = torch.Generator().manual_seed(seed)
    B, _, Lq, Lk = shape
    logits = torch.randn(*shape, generator=g) * 3
    valid: torch.Tensor | None
    if mask == "none":
        valid = None
    elif mask == "ones":
        valid = torch.ones(1, 1, 1, Lk, dtype=torch.bool)
    elif mask == "keys":
        lengths = torch.randint(0, Lk + 1, (B,), generator=g)
        valid = (torch.arange(Lk)[None, :] < lengths[:, None])[:, None, None, :]
        valid[0] = True  # at least one item with every key
    elif mask == "causal":
        valid = ~torch.ones(Lq, Lk, dtype=torch.bool).triu(1)[None, None]
    else:
        valid = torch.rand(*shape, generator=g) < 0.6
        valid[0, 0, 0] = False  # a fully masked row
        valid[-1, -1, -1] = False
        valid[-1, -1, -1, 0] = True  # a one-key row
    full = torch.ones(shape, dtype=torch.bool) if valid is None else valid.expand(shape)
    fill = torch.finfo(torch.float32).min if own else -math.inf
    probs = torch.softmax(logits.masked_fill(~full, fill), -1)
    if nan_rows:
        probs[0, -1, 0] = math.nan
        if Lk > 1:
            probs[-1, 0, -1, 0] = math.nan
    qv = torch.rand(B, Lq, generator=g) < 0.8 if Lq > 1 else None
    return {"probs": probs, "valid": valid, "logits": logits, "query_valid": qv, "own": own}


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    x, y = a.item(), b.item()
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    if math.isinf(x) or math.isinf(y):
        return x == y
    return math.isclose(x, y, rel_tol=2e-5, abs_tol=2e-6)


def _both(site: dict, **kw: object) -> tuple[dict, dict]:
    valid = site["valid"]
    lk = site["probs"].shape[-1]
    ref_valid = torch.ones(1, 1, 1, lk, dtype=torch.bool) if valid is None else valid
    args = (site["probs"], valid, site["query_valid"], site["logits"], 10.0)
    new = attention_stats(*args, materialised=site["own"], **kw)  # type: ignore[arg-type]
    old = reference(  # type: ignore[arg-type]
        site["probs"], ref_valid, *args[2:], materialised=site["own"], **kw
    )
    return new, old


CASES = [
    (shape, mask, seed, nan, own)
    for shape in SHAPES
    for mask in MASKS
    for seed, nan, own in ((0, False, False), (1, True, False), (2, True, True))
    if not (own and mask == "none")
]


@pytest.mark.parametrize(("shape", "mask", "seed", "nan", "own"), CASES)
def test_every_statistic_matches_the_previous_implementation(
    shape: tuple[int, ...], mask: str, seed: int, nan: bool, own: bool
) -> None:
    site = _site(shape, mask, seed, nan, own)
    new, old = _both(site, row_budget=None)
    assert set(new) == set(old)
    wrong = {k: (new[k].item(), old[k].item()) for k in old if not _close(new[k], old[k])}
    assert not wrong


@pytest.mark.parametrize("mask", MASKS)
@pytest.mark.parametrize("shape", [(2, 3, 50, 64), (40, 2, 1, 12)])
def test_with_a_row_budget_the_sampled_rows_are_the_same(mask: str, shape: tuple) -> None:
    # 300 rows: entropy on a stride of 4 rows, the top-k masses on a stride of 13; one query
    # per item (80 rows): strides of 2 and 4
    site = _site(shape, mask, 3, True, False)
    new, old = _both(site, row_budget=shape[0] * shape[1] * shape[2] // 4 + 5, topk_budget=24)
    wrong = {k: (new[k].item(), old[k].item()) for k in old if not _close(new[k], old[k])}
    assert not wrong


def test_top_k_masses_over_every_key_of_a_row_are_exact_not_sampled() -> None:
    # 8 keys: top10 covers every key, so it is the row mass over every row, not a sample
    site = _site((4, 2, 40, 8), "keys", 4, False, False)
    new, _ = _both(site, row_budget=100, topk_budget=10)
    exact, _ = _both(site, row_budget=None)
    assert new["top10"].item() == new["top50"].item()
    assert _close(new["top10"], exact["top10"])
    assert not _close(new["top5"], exact["top5"])  # still sampled: 5 of 8 keys
    assert math.isclose(new["top5"].item(), exact["top5"].item(), rel_tol=0.05)


@pytest.mark.parametrize("shape", SHAPES)
def test_the_no_mask_path_is_the_all_true_mask_path(shape: tuple[int, ...]) -> None:
    site = _site(shape, "none", 5, True, False)
    fast = attention_stats(site["probs"], None, site["query_valid"], site["logits"])
    ones = torch.ones(1, 1, 1, shape[-1], dtype=torch.bool)
    general = attention_stats(site["probs"], ones, site["query_valid"], site["logits"])
    wrong = {
        k: (fast[k].item(), general[k].item()) for k in fast if not _close(fast[k], general[k])
    }
    assert not wrong


@pytest.mark.parametrize("mask", ["none", "keys", "full"])
def test_probabilities_in_any_memory_layout(mask: str) -> None:
    site = _site((3, 2, 9, 12), mask, 7, True, mask == "full")
    heads_inner = site["probs"].transpose(1, 2).contiguous().transpose(1, 2)  # [B, Lq, H, Lk]
    new = attention_stats(heads_inner, site["valid"], logits=site["logits"].mT.contiguous().mT)
    same = attention_stats(site["probs"], site["valid"], logits=site["logits"])
    assert all(_close(new[k], same[k]) for k in same)


def test_no_row_that_counts_gives_nan_means_and_no_sink() -> None:
    probs = torch.full((2, 2, 3, 6), math.nan)
    out = attention_stats(probs, None, logits=torch.randn(2, 2, 3, 6))
    assert out["nan_rows"].item() == 12
    for name in ("entropy", "mass", "uniform_gap", "sink_mass", "sink_key", "logit_max"):
        assert math.isnan(out[name].item()), name
    assert out["mass_min"].item() == math.inf


class _Guarded(TorchDispatchMode):
    """Fails on a host read and records every tensor an op writes in place."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[torch.Tensor] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        name = func.overloadpacket.__name__
        assert name not in ("_local_scalar_dense", "item"), "a host read"
        if name.endswith("_") and args and isinstance(args[0], torch.Tensor):
            self.written.append(args[0])
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("mask", MASKS)
def test_no_host_read_and_the_inputs_are_never_written(mask: str) -> None:
    site = _site((3, 2, 9, 12), mask, 6, True, mask == "full")
    inputs = [
        t
        for t in (site["probs"], site["valid"], site["logits"], site["query_valid"])
        if t is not None
    ]
    before = [t.clone() for t in inputs]
    with _Guarded() as mode:
        attention_stats(
            site["probs"],
            site["valid"],
            site["query_valid"],
            site["logits"],
            materialised=site["own"],
            row_budget=20,
            topk_budget=10,
        )
    for t, b in zip(inputs, before, strict=True):
        assert torch.equal(t, b) or torch.equal(t.isnan(), b.isnan())
        storage = t.untyped_storage().data_ptr()
        assert all(w.untyped_storage().data_ptr() != storage for w in mode.written)
