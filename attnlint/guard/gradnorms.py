"""Gradient norms before clipping, per top-level module, without a sync of their own.

The norms stay on the device until the step is drained (the step's one host sync reads
them with every other statistic). ``GradNorms`` is the mapping ``record_grad_norms()``
returns: its keys are known at once; its values are read from the device the first time
one is asked for, which is a sync the caller asked for.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import torch
from torch import Tensor, nn

from attnlint.guard.collector import GradNormTensors


class GradNorms(Mapping[str, float]):
    def __init__(self, tensors: GradNormTensors) -> None:
        self.tensors = tensors
        self._values: dict[str, float] | None = None

    @property
    def loaded(self) -> dict[str, float] | None:
        """The values, if something already read them (else None: nothing synced)."""
        return self._values

    def _load(self) -> dict[str, float]:
        if self._values is None:
            t = self.tensors
            self._values = dict(zip(t.names, t.values.tolist(), strict=True))
        return self._values

    def __getitem__(self, key: str) -> float:
        return self._load()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.tensors.names)

    def __len__(self) -> int:
        return len(self.tensors.names)

    def __repr__(self) -> str:
        return repr(self._load())


class GradGroups:
    """The model's parameters grouped by top-level module, computed once (a shared
    parameter counts once, in the first group that names it)."""

    def __init__(self, model: nn.Module) -> None:
        seen: set[int] = set()
        self.params: list[tuple[int, nn.Parameter]] = []
        self.names: list[str] = []
        index: dict[str, int] = {}
        for name, p in model.named_parameters():
            if id(p) in seen:
                continue
            seen.add(id(p))
            top = name.split(".", 1)[0] if "." in name else "root"
            if top not in index:
                index[top] = len(self.names)
                self.names.append(top)
            self.params.append((index[top], p))
        self._index: tuple[tuple[int, ...], torch.device, Tensor, list[int]] | None = None

    def norms(self) -> GradNormTensors | None:
        """[total, per group...] of the gradients present now, as one device tensor."""
        grads: list[Tensor] = []
        groups: list[int] = []
        for g, p in self.params:
            if p.grad is not None:
                grads.append(p.grad)  # read under no_grad below: no detach needed
                groups.append(g)
        if not grads:
            return None
        dev = grads[0].device
        with torch.no_grad():
            if any(t.device != dev for t in grads):
                per = [t.float().norm().to(dev) for t in grads]
            else:
                per = list(torch._foreach_norm(grads, 2, dtype=torch.float32))
            members, present = self._membership(tuple(groups), dev)
            # the total and every group's sum of squares in one product with the 0/1 rows
            values = (members @ torch.stack(per).square_()).sqrt_()
        return GradNormTensors(["total", *(self.names[g] for g in present)], values)

    def _membership(self, groups: tuple[int, ...], dev: torch.device) -> tuple[Tensor, list[int]]:
        """[1 + groups, gradients] 0/1: a row of ones (the total), then which gradients each
        present group holds; kept while the same gradients are present."""
        cached = self._index
        if cached is not None and cached[0] == groups and cached[1] == dev:
            return cached[2], cached[3]
        present = sorted(set(groups))
        slot = {g: i for i, g in enumerate(present)}
        members = torch.zeros(1 + len(present), len(groups))
        members[0] = 1.0
        for j, g in enumerate(groups):
            members[1 + slot[g], j] = 1.0
        members = members.to(dev)
        self._index = (groups, dev, members, present)
        return members, present
