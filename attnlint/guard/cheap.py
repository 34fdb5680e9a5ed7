"""The cheap checks of unsampled steps: is an output, a score or a relevance label bad.

An unsampled step may not synchronise with the device, so a cheap check's answer waits
for the next sampled step's read anyway. ``CheapFlags`` therefore does not compute it in
the step: a call made outside a compiled region keeps a detached reference to its (small)
tensors, and the pending calls of one check are answered together, stacked into one
tensor, when the sampled step reads them or when ``CAP`` of them have gathered. A
training step on a small model runs a few hundred ops; a cheap check computed in the step
costs 3 to 11 of them per call, a deferred one none.

Tensors above ``DEFER_NUMEL`` elements (a language model's logits) are reduced in the
step instead, to one 0-d tensor, so that no large tensor outlives its step. Inside a
``torch.compile`` region a model's outputs are only *held* (a list append, which dynamo
replays after the graph: no tensor op, so no graph of its own where the model breaks the
graph itself) and ``settle()``, called by ``step()`` in eager code, keeps or reduces them.
A tensor that the loop changes in place before the next sampled step is read as it is
then.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

CAP = 32  # pending calls per check before they are answered (bounds what is kept alive)
DEFER_NUMEL = 1 << 16  # elements per call above which a call is reduced in the step

# A pending call: its tensors (the mask None when there is none).
Item = tuple[Tensor, Tensor | None]


def output_bad(outs: Sequence[Tensor]) -> Tensor:
    """0-d bool: NaN or +inf in any of ``outs`` (-inf is tolerated: masking padded scores
    with -inf is an idiom). ``amax`` propagates NaN, so one reduction per tensor."""
    one = len(outs) == 1
    top = outs[0].amax() if one else torch.stack([t.amax().float() for t in outs]).amax()
    return ~(top < math.inf)


def _outputs(stacked: Tensor, _mask: Tensor | None) -> Tensor:
    top = stacked.reshape(stacked.shape[0], -1).amax(1)
    return ~(top < math.inf)


def _scores(stacked: Tensor, mask: Tensor | None) -> Tensor:
    bad = ~torch.isfinite(stacked)
    if mask is not None:
        bad = bad & (mask if mask.dtype == torch.bool else mask.bool())
    return bad.reshape(bad.shape[0], -1).any(1)


def _relevance(stacked: Tensor, mask: Tensor | None) -> Tensor:
    # a list passes when its largest valid label exceeds its smallest: fewer than two valid
    # items, constant labels and NaN labels all fail it
    r = stacked.float()
    if mask is None:
        lo, hi = torch.aminmax(r, dim=-1)
    else:
        invalid = ~mask if mask.dtype == torch.bool else ~(mask > 0)
        lo = r.masked_fill(invalid, math.inf).amin(-1)
        hi = r.masked_fill(invalid, -math.inf).amax(-1)
    return ~(hi > lo).reshape(r.shape[0], -1).all(1)


# per check: per-call flags of stacked calls [calls, ...] -> 1-d bool [calls]
_BATCHED: dict[str, Callable[[Tensor, Tensor | None], Tensor]] = {
    "output": _outputs,
    "scores": _scores,
    "relevance": _relevance,
}


class CheapFlags:
    """Per check, how many calls were bad, as a device tensor that only ever grows by an
    addition (no sync); ``counts`` answers the pending calls first."""

    NAMES = ("output", "scores", "relevance")

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._zero = torch.zeros((), device=device)
        self._counts: dict[str, Tensor] = {}
        self._pending: dict[str, list[Item]] = {}
        # outputs held inside compiled regions until ``settle()``: cleared, never replaced
        self.held: list[list[Tensor]] = []
        self.reset()

    def reset(self) -> None:
        # one zero for all: a count is replaced by a sum, never changed in place
        self._counts = dict.fromkeys(self.NAMES, self._zero)
        self._pending = {n: [] for n in self.NAMES}

    @property
    def counts(self) -> dict[str, Tensor]:
        self.settle()
        for name in self.NAMES:
            self._flush(name)
        return self._counts

    def add(self, name: str, bad: Tensor) -> None:
        """``bad``: a 0-d bool (or 0/1) tensor, one call."""
        prev = self._counts[name]
        if bad.device != prev.device:
            prev = prev.to(bad.device)
        self._counts[name] = prev + bad

    def hold(self, outs: list[Tensor]) -> None:
        """One call's outputs, inside a compiled region (no tensor op here)."""
        self.held.append(outs)

    def settle(self) -> None:
        """The held outputs, in eager code: kept for the read, or reduced now."""
        if not self.held:
            return
        held = list(self.held)
        self.held.clear()
        for outs in held:
            if len(outs) != 1 or not self.defer("output", outs[0]):
                self.add("output", output_bad([t.detach() for t in outs]))

    def defer(self, name: str, t: Tensor, mask: Tensor | None = None) -> bool:
        """Keep one call of check ``name`` for later; False (nothing kept) when the call is
        too large to keep, or has a mask of another shape: the caller then reduces it
        now with ``add``."""
        if t.numel() > DEFER_NUMEL or (mask is not None and mask.shape != t.shape):
            return False
        pending = self._pending[name]
        pending.append((_kept(t), None if mask is None else _kept(mask)))
        if len(pending) >= CAP:
            self._flush(name)
        return True

    def _flush(self, name: str) -> None:
        pending = self._pending[name]
        if not pending:
            return
        self._pending[name] = []
        batched = _BATCHED[name]
        for group in _groups(pending):
            flags = batched(*_stack(group))
            self.add(name, flags.sum())


def _kept(t: Tensor) -> Tensor:
    """``t`` detached (a kept tensor must not keep its autograd graph alive until the next
    sampled step), or itself when it has no graph: labels and masks, for an attribute read
    instead of a dispatch."""
    return t.detach() if t.requires_grad else t


def _groups(items: list[Item]) -> list[list[Item]]:
    """Calls that stack: the same shape, dtype and device, with masks alike."""
    groups: dict[tuple, list[Item]] = {}
    for t, m in items:
        key = (
            t.shape,
            t.dtype,
            t.device,
            None if m is None else (m.shape, m.dtype),
        )
        groups.setdefault(key, []).append((t, m))
    return list(groups.values())


def _stack(group: list[Item]) -> tuple[Tensor, Tensor | None]:
    t0, m0 = group[0]
    if len(group) == 1:
        stacked, mask = t0[None], None if m0 is None else m0[None]
    else:
        stacked = torch.stack([t for t, _ in group])
        mask = None if m0 is None else torch.stack([m for _, m in group])  # type: ignore[misc]
    if stacked.dim() == 2:  # one-dimensional calls: one list (relevance) or row each
        stacked = stacked[:, None]
        mask = None if mask is None else mask[:, None]
    return stacked, mask
