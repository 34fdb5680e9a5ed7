"""Self-test for a user's listwise ranking loss (ListMLE, ListNet, LambdaLoss, ...).

Calling convention: ``loss_fn(scores, rel, mask)`` where ``scores`` and ``rel`` are float
tensors of shape ``(lists, items)`` and ``mask`` is a bool tensor of the same shape, True on
valid items. A loss whose signature cannot take three positional arguments is called as
``loss_fn(scores, rel)``; the checks that need padding are then skipped (and listed in
``skipped``). The loss may return a scalar (any reduction) or one value per list.

Why these properties: a listwise loss depends on the scores only through their
differences within a list, so adding a constant to every score of a list must not change
it, and (differentiating that invariance) the gradient over a list's items sums to zero.
The seed investigation's ListMLE clamped scores to [-50, 50]: invariant for small scores,
but once a model's scores drift past the clamp every gradient is zero and the loss sits
at log(L!). Its ``nan_to_num`` hid NaN scores from everything downstream. Both are caught.

The test draws its data from a private ``torch.Generator``: the global RNG is untouched.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

# Shifts large enough to push scores past a [-50, 50] clamp, and a small odd one.
_SHIFTS = (100.0, -3.5, 7.25, -100.0)


@dataclass
class SelfTestResult:
    ok: bool
    failures: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.ok


def _takes_mask(loss_fn: Callable[..., Any]) -> bool:
    try:
        sig = inspect.signature(loss_fn)
    except (TypeError, ValueError):  # builtins without a signature: assume the full form
        return True
    try:
        sig.bind(None, None, None)
    except TypeError:
        return False
    return True


class _Runner:
    def __init__(self, loss_fn: Callable[..., Any], takes_mask: bool, device: torch.device):
        self.loss_fn = loss_fn
        self.takes_mask = takes_mask
        self.device = device

    def __call__(
        self, scores: torch.Tensor, rel: torch.Tensor, mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Loss (detached; scalar or per list) and d(sum of loss)/d(scores)."""
        s = scores.detach().clone().to(self.device).requires_grad_(True)
        r = rel.to(self.device)
        if self.takes_mask:
            m = (
                mask
                if mask is not None
                else torch.ones(scores.shape, dtype=torch.bool, device=scores.device)
            )
            out = self.loss_fn(s, r, m.to(self.device))
        else:
            out = self.loss_fn(s, r)
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"returned {type(out).__name__}, expected a tensor")
        if out.requires_grad:
            (grad,) = torch.autograd.grad(out.sum(), s, allow_unused=True)
        else:
            grad = None
        if grad is None:
            grad = torch.zeros_like(s)
        return out.detach().double().cpu(), grad.detach().double().cpu()


def _close(a: torch.Tensor, b: torch.Tensor, rtol: float = 1e-3) -> bool:
    if a.shape != b.shape or not (bool(torch.isfinite(a).all()) and bool(torch.isfinite(b).all())):
        return False
    scale = torch.clamp(torch.maximum(a.abs(), b.abs()), min=1.0)
    return bool(((a - b).abs() <= rtol * scale).all())


def _fmt(t: torch.Tensor) -> str:
    vals = t.flatten().tolist()
    shown = ", ".join(f"{v:.6g}" for v in vals[:4])
    return f"[{shown}{', ...' if len(vals) > 4 else ''}]"


def selftest_listwise_loss(
    loss_fn: Callable[..., Any],
    *,
    list_len: int = 8,
    batch: int = 4,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> SelfTestResult:
    """Run the listwise-loss properties on random data; ``result.failures`` says which broke."""
    if list_len < 3 or batch < 1:
        raise ValueError("selftest_listwise_loss needs list_len >= 3 and batch >= 1")
    # The guard runs this from inside a training step, possibly under no_grad or
    # inference_mode; the gradient checks need autograd.
    with torch.inference_mode(False), torch.enable_grad():
        return _selftest(loss_fn, list_len, batch, seed, torch.device(device))


def _selftest(
    loss_fn: Callable[..., Any], list_len: int, batch: int, seed: int, device: torch.device
) -> SelfTestResult:
    gen = torch.Generator(device="cpu").manual_seed(seed)
    takes_mask = _takes_mask(loss_fn)
    run = _Runner(loss_fn, takes_mask, device)
    failures: list[str] = []
    skipped: list[str] = []

    scores = torch.randn(batch, list_len, generator=gen)
    rel = torch.rand(batch, list_len, generator=gen) * 4.0  # graded, no ties

    def attempt(name: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception as exc:  # a loss that raises fails the property, it does not crash
            failures.append(f"{name}: loss_fn raised {type(exc).__name__}: {exc}")

    base: dict[str, torch.Tensor] = {}

    def finite() -> None:
        loss, grad = run(scores, rel, None)
        base["loss"], base["grad"] = loss, grad
        if not bool(torch.isfinite(loss).all()):
            failures.append(f"finite: loss on ordinary random scores is {_fmt(loss)}")
        elif not bool(torch.isfinite(grad).all()):
            failures.append("finite: the gradient w.r.t. the scores has NaN/inf entries")

    attempt("finite", finite)
    if "loss" not in base:
        return SelfTestResult(ok=False, failures=failures)

    def shift_invariance() -> None:
        shift = torch.tensor([_SHIFTS[i % len(_SHIFTS)] for i in range(batch)])[:, None]
        loss, _ = run(scores + shift, rel, None)
        if not _close(loss, base["loss"]):
            failures.append(
                "shift invariance: adding a constant to every score of a list (shifts "
                f"{_fmt(shift)}) changed the loss from {_fmt(base['loss'])} to {_fmt(loss)}; "
                "a clamp on the scores or an unstable exp() does this"
            )

    def gradient_sums() -> None:
        grad = base["grad"]
        sums = grad.sum(dim=-1)
        scale = grad.abs().sum(dim=-1).clamp(min=1e-12)
        bad = (sums.abs() > 1e-3 * scale + 1e-6).nonzero().flatten().tolist()
        if bad:
            failures.append(
                f"gradient sums: per-list gradients sum to {_fmt(sums)} instead of 0 "
                f"(lists {bad}); the loss depends on more than score differences"
            )

    def single_item() -> None:
        one_s = torch.randn(batch, 1, generator=gen)
        one_r = torch.rand(batch, 1, generator=gen)
        loss, grad = run(one_s, one_r, None)
        if not (bool((loss.abs() <= 1e-6).all()) and bool((grad.abs() <= 1e-6).all())):
            failures.append(
                f"single item: lists of one item gave loss {_fmt(loss)} and gradient "
                f"{_fmt(grad)}; a list with one item carries no ranking information, both "
                "must be 0"
            )

    def nan_propagates() -> None:
        bad_s = scores.clone()
        bad_s[0, 1] = float("nan")
        loss, _ = run(bad_s, rel, None)
        if bool(torch.isfinite(loss).all()):
            failures.append(
                f"NaN propagation: a NaN score on a valid item gave the finite loss {_fmt(loss)}; "
                "nan_to_num or a clamp inside the loss hides the failure (the seed's flat loss)"
            )

    for name, fn in (
        ("shift invariance", shift_invariance),
        ("gradient sums", gradient_sums),
        ("single item", single_item),
        ("NaN propagation", nan_propagates),
    ):
        attempt(name, fn)

    if not takes_mask:
        skipped += ["padded lists (loss_fn takes no mask)", "padded single item"]
        return SelfTestResult(ok=not failures, failures=failures, skipped=skipped)

    lengths = torch.randint(2, list_len + 1, (batch,), generator=gen)
    lengths[0] = 2
    mask = torch.arange(list_len)[None, :] < lengths[:, None]

    def padded() -> None:
        loss, grad = run(scores, rel, mask)
        if not (bool(torch.isfinite(loss).all()) and bool(torch.isfinite(grad).all())):
            failures.append(f"padded lists: loss {_fmt(loss)} or its gradient is not finite")
            return
        noise_s = scores.masked_fill(~mask, 0.0) + (~mask) * 1e3 * torch.randn(
            batch, list_len, generator=gen
        )
        noise_r = torch.where(mask, rel, torch.rand(batch, list_len, generator=gen) * 100.0)
        loss2, grad2 = run(noise_s, noise_r, mask)
        if not _close(loss, loss2):
            failures.append(
                "padded lists: changing the scores/relevance of padded items changed the loss "
                f"from {_fmt(loss)} to {_fmt(loss2)}; the mask is not applied"
            )
        elif bool((grad2.masked_select(~mask).abs() > 1e-6).any()):
            failures.append("padded lists: padded items receive a nonzero gradient")

    def padded_single() -> None:
        one = torch.zeros(batch, list_len, dtype=torch.bool)
        one[:, 0] = True
        loss, grad = run(scores, rel, one)
        if not (bool((loss.abs() <= 1e-6).all()) and bool((grad.abs() <= 1e-6).all())):
            failures.append(
                f"padded single item: lists with one valid item among padding gave loss "
                f"{_fmt(loss)}; expected 0 (padding is being ranked: the mask is ignored)"
            )

    attempt("padded lists", padded)
    attempt("padded single item", padded_single)
    return SelfTestResult(ok=not failures, failures=failures, skipped=skipped)
