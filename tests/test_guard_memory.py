"""Memory stays flat over 1,000 guarded steps: live tensors and resident memory, eager
and compiled (nothing the guard keeps grows with the number of steps)."""

from __future__ import annotations

import gc
import resource

import pytest
import torch
from guard_models import FAMILIES, first_output

from attnlint.guard import AttentionGuard, GuardConfig

FAM = {f.name: f for f in FAMILIES}
STEPS = 1000


@pytest.fixture(autouse=True)
def _one_thread():
    # tiny models: one intra-op thread is faster, and far faster on a shared machine
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def live_tensors() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, torch.Tensor))


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_memory_is_flat_over_1000_steps(compiled: bool) -> None:
    fam = FAM["causal"]  # interception, a residual block and the root: every store
    model = fam.make()
    args, kwargs = fam.batch()
    guard = AttentionGuard(model, config=GuardConfig(every=10, on_violation="log"))
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    call = model
    if compiled:
        torch._dynamo.reset()
        call = torch.compile(model, backend="eager")
    marks = {}
    for i in range(STEPS):
        out = first_output(call(*args, **kwargs))
        guard.check_scores(out)
        loss = out.square().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        guard.record_grad_norms()
        opt.step()
        guard.step(loss=loss)
        if i + 1 in (100, STEPS):
            marks[i + 1] = (live_tensors(), rss_mib())
    guard.close()
    (t0, r0), (t1, r1) = marks[100], marks[STEPS]
    assert t1 <= t0, (t0, t1)
    # a leak of one small tensor per step would add ~1 MiB here; allocator noise is less
    assert r1 - r0 < 8.0, (r0, r1)
    assert len(guard._losses) <= 200
