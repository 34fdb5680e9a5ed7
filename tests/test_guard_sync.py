"""No host sync off the drain: unsampled steps never synchronise with the device, and a
sampled step synchronises exactly once (in ``step()``), eager and compiled.

On CPU a sync is any tensor -> Python conversion, counted by patching them; on CUDA the
same loop runs under ``torch.cuda.set_sync_debug_mode("error")``.
"""

from __future__ import annotations

import pytest
import torch
from guard_models import FAMILIES, first_output

from attnlint.guard import AttentionGuard, GuardConfig

FAM = {f.name: f for f in FAMILIES}
CONVERSIONS = ("item", "tolist", "__bool__", "__float__", "__int__", "__index__", "numpy")


@pytest.fixture(autouse=True)
def _one_thread():
    # tiny models: one intra-op thread is faster, and far faster on a shared machine
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class Syncs:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        for name in CONVERSIONS:
            original = getattr(torch.Tensor, name)

            def counted(t, *a, _n=name, _o=original, **k):
                self.calls.append(_n)
                return _o(t, *a, **k)

            monkeypatch.setattr(torch.Tensor, name, counted)

    def take(self) -> list[str]:
        out, self.calls = self.calls, []
        return out


def _loop_step(guard: AttentionGuard, call, args, kwargs, opt) -> torch.Tensor:
    """One training step as the docs write it, up to ``guard.step()``; -> the loss."""
    out = first_output(call(*args, **kwargs))
    guard.check_scores(out)
    guard.check_relevance(out.detach().reshape(out.shape[0], -1))
    loss = out.float().square().mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    guard.record_grad_norms()
    opt.step()
    return loss


@pytest.mark.parametrize("name", ["set", "encoder", "causal", "sdpa"])
@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_unsampled_steps_never_sync_and_sampled_steps_sync_once(
    name: str, compiled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    fam = FAM[name]
    model = fam.make()
    args, kwargs = fam.batch()
    guard = AttentionGuard(model, config=GuardConfig(every=3, on_violation="log"))
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    call = model
    if compiled:
        torch._dynamo.reset()
        call = torch.compile(model, backend="eager")
        for _ in range(4):  # compile both variants before counting (tracing converts)
            guard.step(loss=_loop_step(guard, call, args, kwargs, opt))
        while not guard.sampled:
            guard.step(loss=_loop_step(guard, call, args, kwargs, opt))
    syncs = Syncs(monkeypatch)
    first_output(call(*args, **kwargs))  # the model's own syncs (the set model branches)
    own = syncs.take()
    for _ in range(6):
        sampled = guard.sampled
        loss = _loop_step(guard, call, args, kwargs, opt)
        before = syncs.take()
        report = guard.step(loss=loss)  # a tensor loss: read with the step, not before
        during = syncs.take()
        assert report.sampled == sampled
        assert before == own, before  # the guard adds none before step()
        if sampled:
            assert during == ["tolist"], during
            assert report.grad_norms["total"] > 0 and report.loss is not None
        else:
            assert during == [], during
    monkeypatch.undo()
    guard.close()


def test_reading_grad_norms_early_is_the_callers_sync(monkeypatch: pytest.MonkeyPatch) -> None:
    fam = FAM["set"]
    model = fam.make()
    args, kwargs = fam.batch()
    guard = AttentionGuard(model, config=GuardConfig(on_violation="log"))
    first_output(guard(*args, **kwargs)).square().mean().backward()
    syncs = Syncs(monkeypatch)
    norms = guard.record_grad_norms()
    assert set(norms) == {"total", "encoder", "attention", "scorer"}  # keys: no sync
    assert syncs.take() == []
    total = norms["total"]  # the caller asks for a value: one read
    assert syncs.take() == ["tolist"]
    report = guard.step()
    assert syncs.take() == ["tolist"]  # the step's own read, without the norms again
    assert report.grad_norms["total"] == total
    monkeypatch.undo()
    guard.close()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", ["set", "encoder", "causal", "sdpa"])
def test_cuda_unsampled_steps_run_under_sync_debug_mode_error(name: str) -> None:
    fam = FAM[name]
    model = fam.make().cuda()
    args, kwargs = fam.batch()
    args = tuple(a.cuda() for a in args)
    guard = AttentionGuard(model, config=GuardConfig(every=4, on_violation="log"))
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    guard.step(loss=_loop_step(guard, model, args, kwargs, opt))  # step 0: sampled
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(3):  # steps 1-3: unsampled, any sync raises
            guard.step(loss=_loop_step(guard, model, args, kwargs, opt))
    finally:
        torch.cuda.set_sync_debug_mode("default")
    report = guard.step(loss=_loop_step(guard, model, args, kwargs, opt))
    assert report.sampled and report.layers
    guard.close()
