"""The step collector: owns the 0-d statistic tensors of one step and reads them at once.

Observers never convert a tensor to a Python value. What they compute stays on the device
as 0-d tensors in a ``StepCollector`` (per site, in execution order, plus step-wide
scalars); ``read()`` stacks all of them and makes the step's one host sync, then
finishes on the host what was handed over as reductions (``finish``: a site's last
arithmetic on single numbers, the ratios' division). Between sampled steps,
``cheap.CheapFlags`` keeps the cheap checks (no sync); the same read drains them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from attnlint.guard.finish import Finish, Ratio

Key = tuple[str, str]  # (site, statistic); site "" = a step-wide scalar


@dataclass
class SiteRecord:
    site: str
    # statistics and the reductions ``finish`` makes statistics of (names with a "~")
    values: dict[str, Tensor] = field(default_factory=dict)
    bad_in: Tensor | None = None  # any NaN / inf in the site's inputs
    bad_out: Tensor | None = None  # ... in its outputs
    finish: Finish | None = None  # host floats of ``values`` -> the statistics
    ratios: dict[str, Ratio] = field(default_factory=dict)  # statistics divided after the read
    names: list[str] = field(default_factory=list)  # the statistics' names, after a read

    def store(self, parts: dict[str, Tensor], finish: Finish) -> None:
        """Reductions finished on the host after the read (a second store replaces them)."""
        for name in [k for k in self.values if k.startswith("~")]:
            del self.values[name]
        self.values.update(parts)
        self.finish = finish


@dataclass
class GradNormTensors:
    """Per-group gradient norms, still on the device: ``values[0]`` is the total."""

    names: list[str]
    values: Tensor  # 1-d, len(names)


class StepCollector:
    """Device tensors gathered on one sampled step, read with a single sync."""

    def __init__(self) -> None:
        self.records: list[SiteRecord] = []  # execution order
        self.by_site: dict[str, SiteRecord] = {}
        self.scalars: dict[str, Tensor] = {}
        self.input_dim: int | None = None
        self.call_counts: dict[str, int] = {}
        self.scope_inputs: dict[str, Tensor] = {}
        self.grad_norms: GradNormTensors | None = None
        # step-wide reductions finished on the host after the read: kind -> (names, finish)
        self.finishers: dict[str, tuple[list[str], Finish]] = {}
        self.ratios: dict[str, Ratio] = {}  # step-wide statistics divided after the read

    def store(self, kind: str, parts: dict[str, Tensor], finish: Finish) -> None:
        """Step-wide reductions of one kind (a second store replaces them)."""
        self.scalars.update(parts)
        self.finishers[kind] = (list(parts), finish)

    def record(self, site: str) -> SiteRecord:
        rec = self.by_site.get(site)
        if rec is None:
            rec = self.by_site[site] = SiteRecord(site)
            self.records.append(rec)
        return rec

    def site_recorded_in(self, path: str) -> SiteRecord | None:
        """The first site recorded at ``path`` or inside it."""
        inside = f"{path}." if path else ""
        return next((r for r in self.records if r.site == path or r.site.startswith(inside)), None)

    def read(self, cheap: dict[str, Tensor] | None = None) -> dict[Key, float]:
        """Every tensor of the step as a Python float: the step's one host sync."""
        keys: list[Key] = []
        tensors: list[Tensor] = []
        for rec in self.records:
            site = rec.site
            for name, t in rec.values.items():
                keys.append((site, name))
                tensors.append(t)
            if rec.bad_in is not None:
                keys.append((site, "bad_in"))
                tensors.append(rec.bad_in)
            if rec.bad_out is not None:
                keys.append((site, "bad_out"))
                tensors.append(rec.bad_out)
            _add_ratios(site, rec.ratios, keys, tensors)
        for name, t in self.scalars.items():
            keys.append(("", name))
            tensors.append(t)
        _add_ratios("", self.ratios, keys, tensors)
        for name, t in (cheap or {}).items():
            keys.append(("", f"cheap_{name}"))
            tensors.append(t)
        grads = self.grad_norms
        if not tensors and grads is None:
            return {}
        keys, flat = _stack(keys, tensors, None if grads is None else grads.values)
        if grads is not None:
            keys.extend(("grad", n) for n in grads.names)
        values = dict(zip(keys, flat.tolist(), strict=True))  # the one host sync
        for names, finish in self.finishers.values():
            final = finish({name: values.pop(("", name)) for name in names})
            values.update((("", k), float(v)) for k, v in final.items())
        _divide("", self.ratios, values)
        for rec in self.records:
            site = rec.site
            if rec.finish is None:
                rec.names = list(rec.values)
            else:
                final = rec.finish({name: values.pop((site, name)) for name in rec.values})
                values.update(((site, k), float(v)) for k, v in final.items())
                rec.names = list(final)
            _divide(site, rec.ratios, values)
            rec.names.extend(rec.ratios)
        return values


def _add_ratios(
    site: str, ratios: dict[str, Ratio], keys: list[Key], tensors: list[Tensor]
) -> None:
    for name, ratio in ratios.items():
        for i, t in enumerate(ratio.parts()):
            keys.append((site, f"~{name}:{i}"))
            tensors.append(t)


def _divide(site: str, ratios: dict[str, Ratio], values: dict[Key, float]) -> None:
    """The ratios' parts in ``values`` -> their statistics."""
    for name, ratio in ratios.items():
        parts = [values.pop((site, f"~{name}:{i}")) for i in range(len(ratio.parts()))]
        values[(site, name)] = float(ratio.finish(*parts))


def _stack(
    keys: list[Key], scalars: Sequence[Tensor], tail: Tensor | None
) -> tuple[list[Key], Tensor]:
    """One float32 vector of the 0-d ``scalars`` followed by the 1-d ``tail``, and the keys
    in its order. The float32 scalars are stacked apart from the others (the flags): a
    stack that promotes takes three times as long as one that does not."""
    parts: list[Tensor] = []
    order: list[Key] = []
    if scalars:
        same: list[int] = []
        rest: list[int] = []
        for i, t in enumerate(scalars):
            (same if t.dtype == torch.float32 else rest).append(i)
        for group in (same, rest):
            if not group:
                continue
            ts = [scalars[i] for i in group]
            try:
                # stack promotes bool / integer / half flags itself: one op, not one per flag
                flat = torch.stack(ts)
            except RuntimeError:  # a statistic that is not 0-d, or on another device
                dev = scalars[0].device
                flat = torch.stack([t.float().reshape(()).to(dev) for t in ts])
            parts.append(flat if flat.dtype == torch.float32 else flat.float())
            order.extend(keys[i] for i in group)
    if tail is not None:
        tail = tail.float()
        parts.append(tail if not parts else tail.to(parts[0].device))
    if len(parts) == 1:
        return order, parts[0]
    if parts[0].device != parts[-1].device:
        parts = [t.to(parts[0].device) for t in parts]
    return order, torch.cat(parts)
