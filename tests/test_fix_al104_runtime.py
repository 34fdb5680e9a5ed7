"""AL104's fix, run: every statement layout of an AMP step on a CPU GradScaler.

For each layout the fixed text must be exactly the hand-placed ``unscale_`` (the only
change), and the fixed program must run and clip the true gradients: its clip norms and
final weights equal, bit for bit, those of the same loop without a scaler (multiplying
by 2**16 and back is exact in float32). Layouts where no single ``unscale_`` can be
placed safely must not be fixed at all.
"""

from __future__ import annotations

import difflib
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from attnlint.lint.engine import lint_source  # noqa: E402
from attnlint.lint.fixer import apply_fixes  # noqa: E402
from attnlint.lint.rules.al104 import ClipBeforeUnscale  # noqa: E402

PRELUDE = """\
import torch
from torch.nn.utils import clip_grad_norm_

torch.manual_seed(0)
model = torch.nn.Linear(4, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.5)
scaler = torch.amp.GradScaler("cpu")
data = [(torch.randn(8, 4), torch.randn(8, 1)) for _ in range(4)]
norms = []
clip_on, skip_clip = True, False
"""

# Each layout: the program as written (``#U`` marks where unscale_ belongs, `` #U;``
# where it belongs inline), and whether a safe fix exists.
LAYOUTS: dict[str, str] = {
    "separate lines": """\
def train():
    for x, y in data:
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        scaler.scale(loss).backward()
        #U
        norms.append(float(clip_grad_norm_(model.parameters(), 0.5)))
        scaler.step(opt)
        scaler.update()


train()
""",
    "semicolons": """\
for x, y in data:
    opt.zero_grad(); loss = torch.nn.functional.mse_loss(model(x), y)
    scaler.scale(loss).backward(); #U;norms.append(float(clip_grad_norm_(model.parameters(), 0.5))); scaler.step(opt); scaler.update()
""",  # noqa: E501
    "elif body": """\
for x, y in data:
    opt.zero_grad()
    scaler.scale(torch.nn.functional.mse_loss(model(x), y)).backward()
    if skip_clip:
        pass
    elif clip_on:
        #U
        norms.append(float(clip_grad_norm_(model.parameters(), 0.5)))
    scaler.step(opt)
    scaler.update()
""",
    "one-line elif": """\
for x, y in data:
    opt.zero_grad()
    scaler.scale(torch.nn.functional.mse_loss(model(x), y)).backward()
    if skip_clip:
        pass
    elif clip_on: #U;norms.append(float(clip_grad_norm_(model.parameters(), 0.5)))
    scaler.step(opt)
    scaler.update()
""",
    "if header": """\
for x, y in data:
    opt.zero_grad()
    scaler.scale(torch.nn.functional.mse_loss(model(x), y)).backward()
    #U
    if (n := float(clip_grad_norm_(model.parameters(), 0.5))) >= 0:
        norms.append(n)
    scaler.step(opt)
    scaler.update()
""",
    "nested function": """\
def train():
    def one_step(x, y):
        opt.zero_grad()
        scaler.scale(torch.nn.functional.mse_loss(model(x), y)).backward()
        #U
        norms.append(float(clip_grad_norm_(model.parameters(), 0.5)))
        scaler.step(opt)
        scaler.update()

    for x, y in data:
        one_step(x, y)


train()
""",
    "a clip in each branch": """\
for x, y in data:
    opt.zero_grad()
    scaler.scale(torch.nn.functional.mse_loss(model(x), y)).backward()
    if skip_clip:
        #U
        torch.nn.utils.clip_grad_value_(model.parameters(), 0.1)
    elif clip_on:
        #U
        norms.append(float(clip_grad_norm_(model.parameters(), 0.5)))
    else:
        #U
        torch.nn.utils.clip_grad_value_(model.parameters(), 0.2)
    scaler.step(opt)
    scaler.update()
""",
    "accumulation branch": """\
for i, (x, y) in enumerate(data):
    scaler.scale(torch.nn.functional.mse_loss(model(x), y) / 2).backward()
    if i % 2 == 1:
        #U
        norms.append(float(clip_grad_norm_(model.parameters(), 0.5)))
        scaler.step(opt)
        scaler.update()
        opt.zero_grad()
""",
}

# The same loops with no scaler: what the fixed programs must compute.
REFERENCE = {
    "accumulation branch": """\
for i, (x, y) in enumerate(data):
    (torch.nn.functional.mse_loss(model(x), y) / 2).backward()
    if i % 2 == 1:
        norms.append(float(clip_grad_norm_(model.parameters(), 0.5)))
        opt.step()
        opt.zero_grad()
""",
}
PLAIN = """\
for x, y in data:
    opt.zero_grad()
    torch.nn.functional.mse_loss(model(x), y).backward()
    norms.append(float(clip_grad_norm_(model.parameters(), 0.5)))
    opt.step()
"""

UNSAFE: dict[str, str] = {
    # after step(), unscale_ raises ("unscale_() is being called after step()")
    "clip after step": """\
for x, y in data:
    opt.zero_grad()
    scaler.scale(torch.nn.functional.mse_loss(model(x), y)).backward()
    scaler.step(opt)
    norms.append(float(clip_grad_norm_(model.parameters(), 0.5)))
    scaler.update()
""",
    "clip after step, one line": """\
for x, y in data:
    opt.zero_grad()
    scaler.scale(torch.nn.functional.mse_loss(model(x), y)).backward(); scaler.step(opt); clip_grad_norm_(model.parameters(), 0.5); scaler.update()
""",  # noqa: E501
    # an elif test: nothing can go between it and its if
    "elif test": """\
for x, y in data:
    opt.zero_grad()
    scaler.scale(torch.nn.functional.mse_loss(model(x), y)).backward()
    if skip_clip:
        pass
    elif clip_grad_norm_(model.parameters(), 0.5) > 1e9:
        print("huge")
    scaler.step(opt)
    scaler.update()
""",
    # clipping at the top of the loop: the backward of this turn comes later
    "clip before backward": """\
for x, y in data:
    norms.append(float(clip_grad_norm_(model.parameters(), 0.5)))
    opt.zero_grad()
    scaler.scale(torch.nn.functional.mse_loss(model(x), y)).backward()
    scaler.step(opt)
    scaler.update()
""",
    # a clip per parameter group: one unscale_ per clip would be called twice
    "clip in an inner loop": """\
for x, y in data:
    opt.zero_grad()
    scaler.scale(torch.nn.functional.mse_loss(model(x), y)).backward()
    for p in model.parameters():
        clip_grad_norm_([p], 0.5)
    scaler.step(opt)
    scaler.update()
""",
    # two ifs in a row: both clips may run in one step, and a second unscale_ raises
    "clips in two ifs": """\
for x, y in data:
    opt.zero_grad()
    scaler.scale(torch.nn.functional.mse_loss(model(x), y)).backward()
    if clip_on:
        torch.nn.utils.clip_grad_value_(model.parameters(), 0.1)
    if clip_on:
        norms.append(float(clip_grad_norm_(model.parameters(), 0.5)))
    scaler.step(opt)
    scaler.update()
""",
    # a while test is evaluated on every turn
    "while test": """\
for x, y in data:
    opt.zero_grad()
    scaler.scale(torch.nn.functional.mse_loss(model(x), y)).backward()
    while clip_grad_norm_(model.parameters(), 0.5) > 1e9:
        break
    scaler.step(opt)
    scaler.update()
""",
}


def _expected(layout: str) -> str:
    """The layout with unscale_ where ``#U`` marks it (a line of its own, or inline)."""
    lines = []
    for line in layout.splitlines(keepends=True):
        if line.strip() == "#U":
            lines.append(line.replace("#U", "scaler.unscale_(opt)"))
        else:
            lines.append(line.replace("#U;", "scaler.unscale_(opt); "))
    return PRELUDE + "\n" + "".join(lines)


def _original(layout: str) -> str:
    return (
        PRELUDE
        + "\n"
        + "".join(
            line.replace("#U;", "")
            for line in layout.splitlines(keepends=True)
            if line.strip() != "#U"
        )
    )


def _run(source: str) -> tuple[list[float], list[Any]]:
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(source, "train.py", "exec"), namespace)
    return namespace["norms"], [p.detach().clone() for p in namespace["model"].parameters()]


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_fixed_program_unscales_once_in_the_right_place(name: str) -> None:
    original = _original(LAYOUTS[name])
    marks = LAYOUTS[name].count("#U")
    found = lint_source(original, "train.py", rules=[ClipBeforeUnscale])
    assert [d.fixable for d in found] == [True] * marks
    fixed = apply_fixes(original, "train.py", rules=[ClipBeforeUnscale])
    expected = _expected(LAYOUTS[name])
    assert fixed.source == expected
    # minimal: a line added per insert, or the clip's line changed in place
    changed = [
        line
        for line in difflib.ndiff(original.splitlines(), fixed.source.splitlines())
        if line[:1] in "+-"
    ]
    added = [line for line in changed if line.startswith("+")]
    assert len(added) == marks and all("scaler.unscale_(opt)" in line for line in added)
    assert len(changed) - len(added) == LAYOUTS[name].count("#U;")
    assert lint_source(fixed.source, "train.py", rules=[ClipBeforeUnscale]) == []

    norms, weights = _run(fixed.source)
    ref_norms, ref_weights = _run(PRELUDE + "\n" + REFERENCE.get(name, PLAIN))
    assert norms == ref_norms and len(norms) >= 2
    assert all(torch.equal(a, b) for a, b in zip(weights, ref_weights, strict=True))
    scaled_norms, _ = _run(original)  # the bug the fix removes: norms 2**16 too large
    assert scaled_norms[0] > 1000 * norms[0]


@pytest.mark.parametrize("name", list(UNSAFE))
def test_no_fix_where_an_unscale_would_raise_or_run_twice(name: str) -> None:
    source = PRELUDE + "\n" + UNSAFE[name]
    found = lint_source(source, "train.py", rules=[ClipBeforeUnscale])
    assert found and not any(d.fixable for d in found)
    assert apply_fixes(source, "train.py", rules=[ClipBeforeUnscale]).source == source
    _run(source)  # the program as written runs: nothing was made worse


def test_naive_placement_really_raises() -> None:
    """What the fixer must not do: an unscale_ in front of a clip that follows step()."""
    source = PRELUDE + "\n" + UNSAFE["clip after step"]
    naive = source.replace(
        "    norms.append(float(clip", "    scaler.unscale_(opt)\n    norms.append(float(clip"
    )
    with pytest.raises(RuntimeError, match="after step"):
        _run(naive)
