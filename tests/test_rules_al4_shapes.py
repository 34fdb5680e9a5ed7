"""AL401 and AL402 on the shapes real attention code takes: products without an explicit
transpose, scaling in a tuple unpacking or by the caller, and the guards of a ``-inf``
masked softmax that do (and do not) cover fully masked rows."""

from __future__ import annotations

import pytest

from attnlint.lint.engine import lint_source
from attnlint.lint.rule import Rule
from attnlint.lint.rules.al401 import UnscaledAttention
from attnlint.lint.rules.al402 import MaskedSoftmaxNan


def lines(source: str, rule: type[Rule]) -> list[int]:
    return [d.line for d in lint_source(source, "model.py", rules=[rule])]


# -- AL401: products and scalings the walk must see through ------------------------


def test_al401_bmm_of_two_layouts_of_one_input() -> None:
    """Self-attention GAN: k laid out [B, C, N] by view, q permuted to [B, N, C]; no
    transpose on k, still a q-k product. A permuted product of two unrelated inputs is
    not attention."""
    source = """\
import torch
import torch.nn as nn


class SelfAttn(nn.Module):
    def forward(self, x):
        b, c, w, h = x.size()
        query = self.query_conv(x).view(b, -1, w * h).permute(0, 2, 1)
        key = self.key_conv(x).view(b, -1, w * h)
        energy = torch.bmm(query, key)
        attention = self.softmax(energy)
        return torch.bmm(self.value_conv(x).view(b, -1, w * h), attention.permute(0, 2, 1))


def mix(a, b):
    return torch.bmm(a.permute(0, 2, 1), b).softmax(-1)
"""
    assert lines(source, UnscaledAttention) == [11]


def test_al401_tuple_unpacking_scales_only_its_own_element() -> None:
    source = """\
def scaled(self, x):
    qkv = self.qkv(x).reshape(2, 3, 4).permute(2, 0, 1)
    q, k, v = qkv[0] * self.scale, qkv[1], qkv[2]
    return (q @ k.transpose(-2, -1)).softmax(dim=-1) @ v


def scaled_v_only(self, x):
    qkv = self.qkv(x).reshape(2, 3, 4).permute(2, 0, 1)
    q, k, v = qkv[0], qkv[1], qkv[2] * self.scale
    return (q @ k.transpose(-2, -1)).softmax(dim=-1) @ v
"""
    assert lines(source, UnscaledAttention) == [10]


def test_al401_scalar_heads_have_nothing_to_scale() -> None:
    source = """\
def scalar_attention(self, x):
    q, k, v = self.qkv(x).unbind(-1)
    return (q @ k.transpose(-1, -2)).softmax(dim=-1) @ v
"""
    assert lines(source, UnscaledAttention) == []


def test_al401_a_scaled_bias_term_is_not_a_scaled_product() -> None:
    """A multiplication in another term of the sum scales that term (OpenFold's mask bias
    ``inf * (mask - 1)``, a gated relative bias), not the product; one above the product,
    on an operand, or in the product's own term (``s.div(d) + mask``) does."""
    source = """\
import math
import torch


def mask_bias(q, k, mask, inf=1e9):
    bias = inf * (mask - 1)
    logits = torch.einsum("bhqc,bhkc->bhqk", q, k) + bias
    return torch.softmax(logits, dim=-1)


def gated_bias(q, k, rel, gate):
    s = q @ k.transpose(-2, -1)
    s += rel * gate
    return s.softmax(-1)


def scaled_then_biased(q, k, mask, inf=1e9):
    logits = torch.einsum("bhqc,bhkc->bhqk", q, k) / math.sqrt(q.shape[-1])
    return torch.softmax(logits + inf * (mask - 1), dim=-1)


def scaled_in_its_own_term(q, k, mask, d):
    w = torch.matmul(q, k.transpose(-2, -1))
    w = w.div(d) + mask
    return w.softmax(dim=-1)


def scaled_operand(q, k, bias, scale):
    q = q * scale
    s = torch.einsum("bind,bjnd->bnij", q + bias, k) - 1e4 * (1 - bias)
    return s.softmax(-1)


def scaled_sum(q, k, rel):
    return ((q @ k.transpose(-2, -1) + rel) * 0.125).softmax(-1)
"""
    assert lines(source, UnscaledAttention) == [8, 14]


def test_al401_a_helper_of_the_module_that_returns_the_product() -> None:
    """``similarity(q, k).softmax(-1)``: the product is the helper's, unscaled unless the
    helper or the call scales it. A helper returning something else is no product."""
    source = """\
import torch


def similarity(q, k):
    return torch.einsum("b h i d, b h j d -> b h i j", q, k)


def scaled_similarity(q, k, scale):
    return torch.einsum("bhid,bhjd->bhij", q, k) * scale


def project(x, w):
    return x @ w


def attend(q, k, v, scale):
    a = similarity(q, k).softmax(dim=-1)
    b = (similarity(q, k) * scale).softmax(dim=-1)
    c = similarity(q * scale, k).softmax(dim=-1)
    d = scaled_similarity(q, k, scale).softmax(dim=-1)
    e = project(q, v).softmax(dim=-1)
    return a, b, c, d, e


class Block(torch.nn.Module):
    def forward(self, x):
        q, k = self.q(x), self.k(x)
        return similarity(q, k).softmax(dim=-1)
"""
    assert lines(source, UnscaledAttention) == [17, 28]


def test_al401_scaling_by_every_caller_in_the_module() -> None:
    """A helper that receives q: silent when each call in the module passes a scaled q
    or k (positionally, by keyword, through a reshape helper), reported when one does
    not or when nothing in the module calls it."""
    source = """\
import torch


class Attention(torch.nn.Module):
    def _attend(self, q, k, v):
        w = torch.einsum("bhqd,bhkd->bhqk", q, k)
        return w.softmax(-1) @ v

    def forward(self, h):
        q = self._shape(self.q_proj(h) * self.scaling, 4)
        k = self._shape(self.k_proj(h), 4)
        return self._attend(v=k, k=k, q=q)


def attend(q, k, v):
    return torch.softmax(q @ k.transpose(-2, -1), dim=-1) @ v


def block(self, x):
    return attend(self.q(x) * self.scale, self.k(x), self.v(x))


def attend_mixed(q, k, v):
    return torch.softmax(q @ k.transpose(-2, -1), dim=-1) @ v


def block_mixed(self, x):
    a = attend_mixed(self.q(x) * self.scale, self.k(x), self.v(x))
    return a + attend_mixed(self.q(x), self.k(x), self.v(x))


def attend_alone(q, k, v):
    return torch.softmax(q @ k.transpose(-2, -1), dim=-1) @ v
"""
    assert lines(source, UnscaledAttention) == [24, 33]


# -- AL402: guards that guard, and guards that do not ------------------------------

GUARDS = """\
import torch
import torch.nn.functional as F


def cleaned_after_use(q, k, v, valid):
    s = (q @ k.mT) / q.size(-1) ** 0.5
    s = s.masked_fill(~valid[:, None, :], float("-inf"))
    attn = s.softmax(-1)
    out = attn @ v
    attn = torch.nan_to_num(attn)
    return out, attn


def fallback_for_rows_with_a_key(s, v, valid, n):
    s = s.masked_fill(~valid, float("-inf"))
    attn = torch.softmax(s, -1)
    has_key = valid.any(-1, keepdim=True)
    attn = torch.where(has_key & (attn.sum(-1, keepdim=True) == 0), 1.0 / n, attn)
    return attn @ v


def renormalised_rows_with_a_key(s, v, valid):
    s = s.masked_fill(~valid, float("-inf"))
    w = F.softmax(s, dim=-1)
    rows = valid.any(dim=-1)
    w[rows] = w[rows] / w[rows].sum(-1, keepdim=True)
    return w @ v


def any_elsewhere(s, v, mask):
    if mask.any():
        s = s.masked_fill(mask, float("-inf"))
    return s.softmax(-1) @ v


def multiplied_by_the_mask(s, v, valid):
    s = s.masked_fill(valid == 0, float("-inf"))
    attn = s.softmax(-1) * valid
    return attn @ v


def batch_check(s, valid):
    assert valid.any(), "empty batch"
    return s.masked_fill(~valid, float("-inf")).softmax(-1)


def _batch_ok(mask):
    assert (~mask).any()


def batch_check_in_a_helper(s, mask):
    _batch_ok(mask)
    return s.masked_fill(mask, float("-inf")).softmax(-1)
"""


def test_al402_guards_that_do_not_guard() -> None:
    assert lines(GUARDS, MaskedSoftmaxNan) == [7, 15, 23, 32, 37, 44, 53]


@pytest.mark.parametrize(
    "source",
    [
        # nan_to_num of the probabilities, before any use
        """\
import torch


def attend(s, v, mask):
    s = s.masked_fill(mask, float("-inf"))
    attn = s.softmax(-1)
    n = attn.size(-1)
    attn = torch.nan_to_num(attn, nan=0.0)
    return attn @ v / n
""",
        # the empty rows zeroed: by the mask itself, by where on rows with a key, by index
        """\
import torch


def by_mask(s, v, valid):
    s = s.masked_fill(~valid[:, None, :], float("-inf"))
    attn = s.softmax(-1).masked_fill(~valid[:, None, :], 0.0)
    return attn @ v


def by_where(s, v, valid):
    s = torch.where(valid, s, float("-inf"))
    attn = s.softmax(-1)
    attn = torch.where(valid.any(-1, keepdim=True), attn, torch.zeros_like(attn))
    return attn @ v


def by_index(s, v, mask):
    s = s.masked_fill(mask, float("-inf"))
    attn = s.softmax(-1)
    attn[mask.all(-1)] = 0.0
    return attn @ v


def inline(s, mask):
    return torch.nan_to_num(s.masked_fill(mask, float("-inf")).softmax(-1))
""",
        # every row checked: raise, torch._assert, a helper of the same module
        """\
import torch


def raised(s, v, valid):
    if not valid.any(-1).all():
        raise ValueError("a query has no key")
    return s.masked_fill(~valid, float("-inf")).softmax(-1) @ v


def asserted(s, v, mask):
    torch._assert((~mask).any(-1).all(), "empty row")
    return s.masked_fill(mask, float("-inf")).softmax(-1) @ v


class Pool(torch.nn.Module):
    def _check(self, valid):
        if not valid.any(dim=-1).all():
            raise ValueError("a list has no valid item")

    def forward(self, s, v, valid):
        self._check(valid)
        return s.masked_fill(~valid, float("-inf")).softmax(-1) @ v
""",
        # -inf made finite again before the softmax (Hugging Face's floor)
        """\
import torch


def floor(w, mask, v):
    w = w.masked_fill(mask, float("-inf"))
    w = torch.max(w, torch.tensor(torch.finfo(w.dtype).min))
    return torch.softmax(w, dim=-1) @ v
""",
        # sparse mixture-of-experts gates: masked relative to the row's own maximum
        """\
import torch


def sparsemixer(scores, eps):
    threshold, _ = scores.max(dim=-1, keepdim=True)
    factor = scores.abs().clamp(min=threshold)
    threshold = ((threshold - scores) / factor) > (2 * eps)
    gates = scores.masked_fill(threshold, float("-inf"))
    return torch.softmax(gates, dim=-1)
""",
    ],
)
def test_al402_real_guards_silence_it(source: str) -> None:
    assert lines(source, MaskedSoftmaxNan) == []


def test_al402_fill_in_a_helper_softmax_in_the_caller() -> None:
    """Found at the fill (where torch.finfo(dtype).min goes) when a caller softmaxes
    what the helper returns unguarded; silent for guarded callers and for a max."""
    source = """\
import torch


def mask_logits(logits, mask):
    return logits.masked_fill(~mask, float("-inf"))


def attend(q, k, v, mask):
    s = mask_logits(q @ k.mT / q.size(-1) ** 0.5, mask)
    return s.softmax(-1) @ v


def attend_guarded(q, k, v, mask):
    s = mask_logits(q @ k.mT / q.size(-1) ** 0.5, mask)
    return torch.nan_to_num(s.softmax(-1)) @ v


def best(logits, mask):
    return mask_logits(logits, mask).max(-1).values
"""
    found = lint_source(source, "model.py", rules=[MaskedSoftmaxNan])
    assert [d.line for d in found] == [5]
    assert "attend softmaxes the result of mask_logits" in found[0].message
    guarded = source.replace(
        "    return s.softmax(-1) @ v", "    return torch.nan_to_num(s.softmax(-1)) @ v"
    )
    assert lines(guarded, MaskedSoftmaxNan) == []


def test_al402_a_causal_buffer_of_any_name() -> None:
    """A buffer bound to ``tril`` is causal whatever it is called; a padding mask filled
    after it still leaves rows empty, and a ``self.mask`` that is not triangular is no
    causal mask."""
    source = """\
import torch


class Causal(torch.nn.Module):
    def __init__(self, n):
        super().__init__()
        self.register_buffer("mask", torch.tril(torch.ones(n, n)).view(1, 1, n, n))
        self.tri = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)

    def forward(self, att, T, pad=None):
        att = att.masked_fill(self.mask[:, :, :T, :T] == 0, float("-inf"))
        att = att.masked_fill(self.tri[:T, :T], float("-inf"))
        if pad is not None:
            att = att.masked_fill(pad[:, None, None, :] == 0, float("-inf"))
        return att.softmax(-1)


class Padded(torch.nn.Module):
    def __init__(self, mask):
        super().__init__()
        self.register_buffer("mask", mask)

    def forward(self, att):
        return att.masked_fill(self.mask == 0, float("-inf")).softmax(-1)
"""
    assert lines(source, MaskedSoftmaxNan) == [14, 24]


def test_al402_softmax_in_both_branches() -> None:
    """A softmax rebinding the probabilities in the other branch does not clean them."""
    source = """\
import torch


def attend(s, v, valid, precision):
    s = s.masked_fill(~valid, float("-inf"))
    if precision is not None:
        p = torch.softmax(s.to(precision), dim=-1).to(s.dtype)
    else:
        p = torch.softmax(s, dim=-1)
    return p @ v
"""
    assert lines(source, MaskedSoftmaxNan) == [5]
