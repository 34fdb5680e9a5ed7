"""AL401 unscaled-attention and AL402 masked-softmax-nan, plus the value-flow helper
they are built on."""

from __future__ import annotations

import libcst as cst
import pytest

from attnlint.lint.engine import lint_source
from attnlint.lint.flow import ScopeFlow
from attnlint.lint.rule import Rule
from attnlint.lint.rules.al401 import UnscaledAttention
from attnlint.lint.rules.al402 import MaskedSoftmaxNan


def lines(source: str, rule: type[Rule]) -> list[int]:
    return [d.line for d in lint_source(source, "model.py", rules=[rule])]


# -- flow ----------------------------------------------------------------------------

FLOW = """\
def f(q, k, mask, scale):
    s = q @ k.mT
    if scale:
        s = s / 8
    s = s.masked_fill(mask, 0)
    for i in range(3):
        t = s + i
    s = k
    return t
"""


def test_flow_definitions_and_forward() -> None:
    func = cst.parse_module(FLOW).body[0]
    assert isinstance(func, cst.FunctionDef)
    flow = ScopeFlow(func)
    use = next(step for step in flow.steps if isinstance(step.node, cst.Return))
    # t is bound in a loop body: the return may see it
    assert [s.index for s in flow.definitions("t", use.index)] == [5]
    fill = flow.steps[3]
    assert "masked_fill" in cst.Module([]).code_for_node(fill.value)  # type: ignore[arg-type]
    # the masked_fill step may read s from the branch or from the product
    origins = [s.index for s in flow.definitions("s", fill.index)]
    assert origins == [2, 0]
    reached = [step.index for step, _ in flow.forward({"s"}, 0)]
    # s = k (step 6) ends s, but t derived from it inside the loop reaches the return
    assert reached == [2, 3, 5, 7]
    assert flow.steps[5].loops and not flow.steps[6].loops


# -- AL401 ---------------------------------------------------------------------------


def test_al401_three_assignments_and_a_mask_step() -> None:
    source = """\
import torch
from torch.nn import functional as F


class Block(torch.nn.Module):
    def forward(self, x, pad):
        b, n, _ = x.shape
        q = self.wq(x).view(b, n, self.h, -1).transpose(1, 2)
        k = self.wk(x).view(b, n, self.h, self.d // self.h).transpose(1, 2)
        kt = k.transpose(-2, -1)
        logits = torch.matmul(q, kt)
        logits = logits + self.rel_bias
        logits = logits.masked_fill(pad[:, None, None, :], -1e4)
        return F.softmax(logits.float(), dim=-1).type_as(x)
"""
    assert lines(source, UnscaledAttention) == [14]


def test_al401_softmax_module_attribute() -> None:
    source = """\
import torch.nn as nn


class A(nn.Module):
    def __init__(self):
        super().__init__()
        self.softmax = nn.Softmax(dim=-1)

    def forward(self, q, k):
        energy = q.matmul(k.permute(0, 2, 1))
        return self.softmax(energy)
"""
    assert lines(source, UnscaledAttention) == [11]


@pytest.mark.parametrize(
    "source",
    [
        # scale q first (in place)
        """\
def attn(q, k, v, scale):
    q *= scale
    return (q @ k.transpose(-2, -1)).softmax(-1) @ v
""",
        # divide the scores, in a branch (GPT-2 style)
        """\
import torch


def attn(self, q, k, v):
    w = torch.matmul(q, k.transpose(-1, -2))
    if self.scale_attn_weights:
        w = w / torch.full([], v.size(-1) ** 0.5, dtype=w.dtype)
    return torch.nn.functional.softmax(w, dim=-1) @ v
""",
        # a precomputed scale multiplied in, via baddbmm's alpha
        """\
import torch


def attn(q, k, scale):
    out = torch.empty(q.size(0), q.size(1), k.size(1))
    w = torch.baddbmm(out, q, k.transpose(1, 2), beta=0.0, alpha=scale)
    return w.softmax(-1)
""",
        # scores scaled in place, after an in-place mask
        """\
import math


def attn(q, k, mask):
    scores = q @ k.transpose(-2, -1)
    scores.masked_fill_(mask, -1e9)
    scores.div_(math.sqrt(q.size(-1)))
    return scores.softmax(-1)
""",
        # scaled by a helper whose name or argument says so (quantizable MHA)
        """\
import torch


def attn(self, q, k, head_dim):
    scaling = float(head_dim) ** -0.5
    q = self.q_scaling_product.mul_scalar(q, scaling)
    return torch.bmm(q, k.transpose(1, 2)).softmax(-1)
""",
        # cosine attention
        """\
import torch.nn.functional as F


def attn(q, k):
    q = F.normalize(q, dim=-1)
    k = F.normalize(k, dim=-1)
    return (q @ k.mT).softmax(-1)
""",
        # softmax over classifier logits and over attention-pooling logits
        """\
import torch


def heads(self, h):
    logits = h @ self.classifier.weight.T
    pooled = torch.softmax(self.pool(h).squeeze(-1), dim=-1)
    return logits.softmax(-1), pooled
""",
    ],
)
def test_al401_silent(source: str) -> None:
    assert lines(source, UnscaledAttention) == []


# -- AL402 ---------------------------------------------------------------------------


def test_al402_followed_through_assignments_and_in_place() -> None:
    source = """\
import torch


def attend(q, k, v, lengths):
    mask = torch.arange(k.size(1))[None, :] >= lengths[:, None]
    s = torch.bmm(q, k.transpose(1, 2)) / q.size(-1) ** 0.5
    s.masked_fill_(mask[:, None, :], value=-float("inf"))
    t = s.float()
    w = t.softmax(-1)
    return torch.bmm(w, v)
"""
    found = lint_source(source, "model.py", rules=[MaskedSoftmaxNan])
    assert [d.line for d in found] == [7]
    assert found[0].fixable


@pytest.mark.parametrize(
    "source",
    [
        # a finite fill
        """\
import torch


def attend(s, mask):
    s = s.masked_fill(mask, -1e9)
    t = s.masked_fill(mask, torch.finfo(s.dtype).min)
    return s.softmax(-1), t.softmax(-1)
""",
        # fully masked rows zeroed after the softmax
        """\
import torch


def attend(s, mask):
    s = s.masked_fill(mask, float("-inf"))
    attn = torch.softmax(s, dim=-1)
    empty = mask.all(dim=-1, keepdim=True)
    attn = attn.masked_fill(empty, 0.0)
    return attn
""",
        # causal mask (nanoGPT)
        """\
import torch


def attend(q, k, T):
    causal = torch.tril(torch.ones(T, T)).bool()
    att = (q @ k.transpose(-2, -1)) * k.size(-1) ** -0.5
    att = att.masked_fill(~causal, float("-inf"))
    return att.softmax(dim=-1)
""",
        # top-k / top-p sampling filters always keep the best token (nanoGPT, HF)
        """\
import torch
import torch.nn.functional as F


def sample(logits, top_k, top_p):
    v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
    logits[logits < v[:, [-1]]] = -float("Inf")
    sorted_logits, sorted_indices = torch.sort(logits, descending=True)
    cumulative = torch.cumsum(F.softmax(sorted_logits, dim=-1), dim=-1)
    to_drop = cumulative > top_p
    indices_to_remove = to_drop.scatter(1, sorted_indices, to_drop)
    logits = logits.masked_fill(indices_to_remove, float("-inf"))
    return torch.multinomial(F.softmax(logits, dim=-1), 1)
""",
        # -inf used for a max, not a softmax
        """\
def pool(h, mask):
    h = h.masked_fill(mask[..., None], float("-inf"))
    return h.max(dim=1).values
""",
    ],
)
def test_al402_silent(source: str) -> None:
    assert lines(source, MaskedSoftmaxNan) == []


def test_trigger_words_cover_the_capitalised_spellings() -> None:
    source = """\
import torch.nn as nn


def f(q, k):
    return nn.Softmax(dim=-1)(q @ k.mT)
"""
    assert lines(source, UnscaledAttention) == [5]
    inf = """\
import torch


def f(s, m):
    return s.masked_fill(m, float("-Infinity")).softmax(-1)
"""
    assert lines(inf, MaskedSoftmaxNan) == [5]


# -- AL401 and AL402: a helper decided by every caller in the other checked modules --

ATTN = """\
import torch


def attend(q, k, v):
    return torch.softmax(q @ k.transpose(-2, -1), dim=-1) @ v


def masked(q, k, v, keep):
    s = (q @ k.mT) / q.size(-1) ** 0.5
    s = s.masked_fill(~keep[:, None, :], float("-inf"))
    return s.softmax(-1) @ v
"""

SCALES = """\
import torch.nn.functional as F

from pkg.attn import attend, masked


def block(self, q, k, v, keep):
    keep = F.pad(keep, (1, 0), value=True)  # the CLS key: never masked
    return attend(q * self.scale, k, v) + masked(q, k, v, keep)
"""

UNSCALED = """\
from pkg.attn import attend as attention, masked


def head(q, k, v, key_mask):
    return attention(q, k, v) + masked(q, k, v, key_mask)
"""


def _repo(tmp_path, **files: str):  # type: ignore[no-untyped-def]
    from tests._index_repos import write_repo

    return write_repo(tmp_path, {"pkg/__init__.py": "", "pkg/attn.py": ATTN, **files})


@pytest.mark.parametrize("cache", [True, False])
def test_every_caller_protects_the_helper(tmp_path, cache: bool) -> None:  # type: ignore[no-untyped-def]
    from tests._index_repos import check

    _repo(tmp_path, **{"pkg/model.py": SCALES})
    for _ in range(2):  # cold, then warm from the cache
        assert check(tmp_path, codes=("AL401", "AL402"), cache=cache) == []
    # the helper checked alone is judged as written
    alone = check(tmp_path, ["pkg/attn.py"], codes=("AL401", "AL402"), cache=cache)
    assert [(f.line, f.code) for f in alone] == [(5, "AL401"), (10, "AL402")]


def test_one_unprotected_caller_keeps_the_finding_and_is_named(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests._index_repos import check

    _repo(tmp_path, **{"pkg/model.py": SCALES, "pkg/other.py": UNSCALED})
    found = check(tmp_path, codes=("AL401", "AL402"))
    assert [(f.path, f.line, f.code) for f in found] == [
        ("pkg/attn.py", 5, "AL401"),
        ("pkg/attn.py", 10, "AL402"),
    ]
    # the call through an alias counts: ``attention`` is ``attend``
    assert found[0].message.endswith("; head (pkg/other.py:5) passes q and k unscaled")
    assert found[1].message.endswith(
        "; head (pkg/other.py:5) passes a mask that can mask a row whole"
    )
    # without the protecting caller, the finding is as written (no caller named)
    only = check(tmp_path, ["pkg/attn.py", "pkg/other.py"], codes=("AL401", "AL402"))
    assert [(f.line, "head (" in f.message) for f in only] == [(5, False), (10, False)]


def test_a_call_that_scales_q_but_not_k_still_scales(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests._index_repos import check

    first = SCALES.replace("masked(q, k, v, keep)", "0")
    second = UNSCALED.replace("attention(q, k, v)", "attention(q / 8, k, v)").replace(
        " + masked(q, k, v, key_mask)", ""
    )
    _repo(tmp_path, **{"pkg/model.py": first, "pkg/other.py": second})
    assert check(tmp_path, codes=("AL401",)) == []


@pytest.mark.parametrize(
    ("call", "helper"),
    [
        ("attend(q, k)", True),
        ("L.attend(q, k)", True),  # a short module alias
        ("layers.attend(q, k)", True),
        ("Block(q, k)", False),  # a class: no module-level function's facts
        ("Block.attend(q, k)", False),
        ("REGISTRY.get(q, k)", False),
        ("layers.Block(q, k)", False),
        ("init.normal_(q, k)", False),  # in place
        ("np.dot(q, k)", False),  # a library
    ],
)
def test_which_calls_may_be_an_imported_helper(call: str, helper: bool) -> None:
    from attnlint.lint.callers import imported_helper

    imports = {"attend": "pkg.layers.attend", "L": "pkg.layers", "layers": "pkg.layers"}
    imports |= {"Block": "pkg.Block", "REGISTRY": "pkg.REGISTRY", "init": "pkg.init"}
    imports |= {"np": "numpy"}
    assert imported_helper(cst.parse_expression(call), imports) is helper  # type: ignore[arg-type]
