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
        ("c = keep.new_ones(b, 1); m = torch.cat([c, keep], dim=-1)", "~m"),  # bound first
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


# -- the mask built by the caller --------------------------------------------------

_HELPERS = """
import torch
import torch.nn.functional as F


def attend_keep(q, k, v, keep):
    attn = (q @ k.transpose(-2, -1)) / 8
    attn = attn.masked_fill(keep[:, None, :] == 0, float("-inf"))
    return attn.softmax(dim=-1) @ v


def attend_pad(q, k, v, pad):
    attn = (q @ k.transpose(-2, -1)) / 8
    attn = attn.masked_fill(pad[:, None, :], float("-inf"))
    return attn.softmax(dim=-1) @ v


class Block(torch.nn.Module):
    def _attend(self, q, k, v, key_padding_mask):
        attn = (q @ k.transpose(-2, -1)) / 8
        attn = attn.masked_fill(key_padding_mask.unsqueeze(1), float("-inf"))
        return attn.softmax(dim=-1) @ v

    def forward(self, q, k, v, pad):
        {method}
        return self._attend(q, k, v, m)


def caller(q, k, v, keep, pad):
    b = q.shape[0]
    {build}
    return {call}
"""


def _lines(method: str, build: str, call: str, *more: str) -> list[int]:
    source = _HELPERS.format(method=method, build=build, call=call) + "".join(more)
    found = analyse(source, "attend.py", rules=[all_rules()["AL402"]])
    return [d.line for d in found.diagnostics]


_PAD_ON = "m = torch.cat([pad.new_zeros(pad.shape[0], 1), pad], dim=1)"


@pytest.mark.parametrize(
    ("build", "call"),
    [
        ("m = F.pad(keep, (1, 0), value=True)", "attend_keep(q, k, v, m)"),
        ("m = torch.cat([torch.ones(b, 1), keep], -1)", "attend_keep(q, k, v, keep=m)"),
        ("c = torch.zeros(b, 1); m = torch.cat([c, pad], 1)", "attend_pad(q, k, v, m.bool())"),
        ("m = F.pad(pad, (1, 0), value=False)", "attend_pad(q, k, v, m)"),
        ("m = F.pad(keep, (1, 0), value=True)", "attend_pad(q, k, v, ~m)"),  # inverted
        ("m = torch.cat([torch.ones(b, 1), keep], -1)", "attend_pad(q, k, v, m == 0)"),
        ("m = F.pad(pad, (1, 0), value=False)", "attend_keep(q, k, v, m.logical_not())"),
    ],
)
def test_every_caller_builds_the_mask_with_a_kept_column(build: str, call: str) -> None:
    # only the helper nothing calls is left: it is judged as written
    uncalled = 14 if call.startswith("attend_keep") else 8
    assert _lines(_PAD_ON, build, call) == [uncalled]


@pytest.mark.parametrize(
    ("build", "call"),
    [
        # the column is the value the helper masks
        ("m = F.pad(keep, (1, 0), value=True)", "attend_pad(q, k, v, m)"),
        ("m = F.pad(pad, (1, 0), value=False)", "attend_keep(q, k, v, m)"),
        # no constant column; the mask is the caller's own parameter
        ("m = torch.cat([keep, keep], -1)", "attend_keep(q, k, v, m)"),
        ("m = keep", "attend_keep(q, k, v, keep)"),
        # the column is added on one path only: the other hands the caller's mask on
        ("if b > 1:\n        keep = F.pad(keep, (1, 0), value=True)", "attend_keep(q, k, v, keep)"),
    ],
)
def test_a_caller_that_can_mask_a_row_whole(build: str, call: str) -> None:
    assert _lines(_PAD_ON, build, call) == [8, 14]


def test_the_method_follows_the_same_rule() -> None:
    # ``self._attend`` fills where the mask is True: a column of False is kept
    assert _lines(_PAD_ON, "m = keep", "0") == [8, 14]
    assert _lines("m = F.pad(pad, (1, 0), value=True)", "m = keep", "0") == [8, 14, 21]
    assert _lines("m = pad", "m = keep", "0") == [8, 14, 21]


def test_one_unprotected_caller_keeps_it_and_is_named() -> None:
    other = "\n\ndef other(q, k, v, keep):\n    return attend_keep(q, k, v, keep)\n"
    build = "m = F.pad(keep, (1, 0), value=True)"
    source = _HELPERS.format(method=_PAD_ON, build=build, call="attend_keep(q, k, v, m)")
    found = analyse(source + other, "attend.py", rules=[all_rules()["AL402"]]).diagnostics
    assert [d.line for d in found] == [8, 14]
    assert found[0].message.endswith(
        "; other, which calls it here, passes a mask that can mask a row whole"
    )
    assert "calls it here" not in found[1].message  # nothing calls it: as written
    # a helper nothing calls is judged as written
    assert _lines(_PAD_ON, build, "0") == [8, 14]


def test_cross_module_callers_decide_in_the_helper_polarity(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests._index_repos import check, write_repo

    helpers = _HELPERS.format(method=_PAD_ON, build="pass", call="0")
    caller = (
        "import torch\n\nfrom pkg.attn import attend_keep, attend_pad\n\n\n"
        "def model(q, k, v, pad):\n"
        "    pad = torch.cat([pad.new_zeros(pad.shape[0], 1), pad], dim=1)\n"
        "    return attend_pad(q, k, v, pad) + attend_keep(q, k, v, pad)\n"
    )
    write_repo(tmp_path, {"pkg/__init__.py": "", "pkg/attn.py": helpers, "pkg/model.py": caller})
    found = check(tmp_path, codes=("AL402",))
    # the padding-mask helper is safe; the keep-mask one is given the padding mask
    assert [(f.path, f.line) for f in found] == [("pkg/attn.py", 8)]
    assert "model (pkg/model.py" not in found[0].message  # no caller protects it


@pytest.mark.parametrize(("column", "lines"), [("True", []), ("False", [7])])
def test_where_keeps_where_its_condition_is_true(column: str, lines: list[int]) -> None:
    source = f"""
import torch
import torch.nn.functional as F


def pool(s, valid):
    logits = torch.where(valid, s, float("-inf"))
    return torch.softmax(logits, dim=-1)


def caller(s, valid):
    return pool(s, F.pad(valid, (1, 0), value={column}))
"""
    found = analyse(source, "pool.py", rules=[all_rules()["AL402"]])
    assert [d.line for d in found.diagnostics] == lines
