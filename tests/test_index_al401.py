"""AL401 one module away: a helper of another checked module returns the q-k product and
the caller softmaxes it (``similarity(q, k).softmax(-1)``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._index_repos import check, line_of, where, write_repo

SIM = """\
import torch


def similarity(q, k):
    return torch.einsum("b h i d, b h j d -> b h i j", q, k)


def scaled_similarity(q, k):
    return q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5


def project(h, weight):
    return h @ weight.transpose(0, 1)
"""

CALLER = """\
import math

import torch

from pkg.sim import project, scaled_similarity, similarity


class Block(torch.nn.Module):
    def forward(self, q, k, v, h):
        raw = similarity(q, k).softmax(dim=-1) @ v
        by_arg = similarity(q * self.scale, k).softmax(dim=-1) @ v
        by_result = torch.softmax(similarity(q, k) / math.sqrt(q.shape[-1]), dim=-1)
        inside = scaled_similarity(q, k).softmax(-1)
        vocab = project(h, self.emb.weight).softmax(-1)
        return raw + by_arg + by_result @ v + inside @ v + vocab
"""


@pytest.mark.parametrize("cache", [True, False])
def test_a_product_returned_by_another_module_is_found_at_the_softmax(
    tmp_path: Path, cache: bool
) -> None:
    write_repo(tmp_path, {"pkg/__init__.py": "", "pkg/sim.py": SIM, "pkg/block.py": CALLER})
    for _ in range(2):  # cold, then warm from the cache
        found = check(tmp_path, codes=("AL401",), cache=cache)
        line = line_of(tmp_path, "pkg/block.py", "raw = ")
        # scaled by the call, by the caller after it, inside the helper; a vocabulary
        # projection with a parameter matrix is not attention
        assert where(found) == [("pkg/block.py", line, "AL401")]
        assert "similarity (pkg/sim.py:4) returns" in found[0].message


def test_a_re_exported_helper_is_followed_also_when_only_the_caller_is_checked(
    tmp_path: Path,
) -> None:
    caller = "from pkg import similarity\n\n\ndef attend(q, k, v):\n"
    caller += "    return similarity(q, k).softmax(dim=-1) @ v\n"
    write_repo(
        tmp_path,
        {
            "pkg/__init__.py": "from .sim import similarity\n",
            "pkg/sim.py": SIM,
            "train.py": caller,
        },
    )
    assert where(check(tmp_path, codes=("AL401",))) == [("train.py", 5, "AL401")]
    # the helper has no softmax of its own
    assert check(tmp_path, ["pkg/sim.py"], codes=("AL401",)) == []
    # pre-commit passes the changed file only: the helper's summary is read from its module
    only = check(tmp_path, ["train.py"], codes=("AL401",), cache=False)
    assert where(only) == [("train.py", 5, "AL401")]


def test_a_masking_helper_passed_the_product_is_still_read_through(tmp_path: Path) -> None:
    helper = "def mask_scores(s, m):\n    return s.masked_fill(~m, -1e4)\n"
    caller = (
        "from pkg.masking import mask_scores\n\n\n"
        "def attend(q, k, v, m):\n"
        "    s = q @ k.transpose(-2, -1)\n"
        "    return mask_scores(s, m).softmax(-1) @ v\n"
    )
    write_repo(tmp_path, {"pkg/__init__.py": "", "pkg/masking.py": helper, "pkg/attn.py": caller})
    found = check(tmp_path, codes=("AL401",))
    assert where(found) == [("pkg/attn.py", 6, "AL401")]
    assert "returns" not in found[0].message  # the product is this module's own


NESTED = """\
import torch


def qk(q, k):
    return torch.einsum("bhid,bhjd->bhij", q, k)


def logits(q, k):
    return qk(q, k)


def scaled(q, k):
    return qk(q, k) * q.shape[-1] ** -0.5


def recursive(q, k):
    return recursive(q, k)


def unscaled(q, k, v):
    return logits(q, k).softmax(-1) @ v


def scaled_attention(q, k, v):
    return scaled(q, k).softmax(-1) @ v


def never_returns(q, k, v):
    return recursive(q, k).softmax(-1) @ v
"""


def test_helpers_calling_helpers_are_followed(tmp_path: Path) -> None:
    write_repo(tmp_path, {"attn.py": NESTED})
    line = line_of(tmp_path, "attn.py", "logits(q, k).softmax")
    assert where(check(tmp_path, codes=("AL401",))) == [("attn.py", line, "AL401")]


def test_a_helper_returning_another_modules_product_is_followed(tmp_path: Path) -> None:
    inner = "from pkg.sim import similarity\n\n\ndef pair_logits(q, k):\n"
    inner += "    return similarity(q, k)\n"
    caller = "from pkg.pairs import pair_logits\n\n\ndef attend(q, k, v):\n"
    caller += "    return pair_logits(q, k).softmax(-1) @ v\n"
    write_repo(
        tmp_path,
        {"pkg/__init__.py": "", "pkg/sim.py": SIM, "pkg/pairs.py": inner, "train.py": caller},
    )
    found = check(tmp_path, codes=("AL401",))
    assert where(found) == [("train.py", 5, "AL401")]
    assert "pair_logits (pkg/pairs.py:4) returns" in found[0].message


METHOD = """\
import torch


class CrossAttention(torch.nn.Module):
    def cross_scores(self, text, other):
        return torch.matmul(self.q(text), self.k(other).transpose(1, 2))

    def scaled_scores(self, text, other):
        return self.cross_scores(text, other) / self.q.out_features**0.5

    def forward(self, text, other, pad):
        scores = self.cross_scores(text, other).masked_fill(pad[:, None, :], -1e4)
        attn = scores.softmax(dim=-1)
        kept = self.scaled_scores(text, other).softmax(dim=-1)
        return attn @ self.v(other) + kept @ self.v(other)
"""


def test_a_method_returning_the_product_is_followed_through_self(tmp_path: Path) -> None:
    write_repo(tmp_path, {"cross.py": METHOD})
    line = line_of(tmp_path, "cross.py", "attn = scores.softmax")
    assert where(check(tmp_path, codes=("AL401",))) == [("cross.py", line, "AL401")]


def test_helpers_reached_through_a_star_import(tmp_path: Path) -> None:
    """``from utils import *``: the bare names the script calls and never binds are the
    module's; its own and builtin names are not."""
    utils = SIM + "\n\ndef clip_and_step(model, opt):\n"
    utils += "    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n"
    utils += "    opt.step()\n    return norm\n"
    script = """\
from utils import *


def similarity(a, b):  # the script's own, shadowing the module's
    return a + b


def train(model, opt, loader, q, k, v):
    for batch in loader:
        model(batch).mean().backward()
        clip_and_step(model, opt)
    own = similarity(q, k).softmax(-1) @ v
    return scaled_similarity(q, k).softmax(-1) @ v + own + len(loader)
"""
    write_repo(tmp_path, {"utils.py": utils, "train.py": script})
    found = check(tmp_path, codes=("AL103", "AL401"))
    line = line_of(tmp_path, "train.py", "clip_and_step(model, opt)")
    assert where(found) == [("train.py", line, "AL103")]
    assert "clip_and_step (utils.py:" in found[0].message
