"""What every observer shares: the step's context, quiet computation, argument access.

An observer watches one kind of site, in the manner of a torch.fx ``Interpreter`` pass:
it is handed the calls it cares about (a module's inputs and outputs, an intercepted
function call) and turns them into 0-d statistic tensors in the step's ``StepCollector``.
It never converts a tensor to a Python value (no host sync) and never alters an input,
an output, a flag of the model or the random state.

Under ``torch.compile`` the observers' entry points are traced by dynamo. On unsampled
steps they read one bool (``Context.capturing``, constant between sampled steps, so the
graph never changes) and return. On sampled steps an entry point that runs inside a
compiled region only *stashes* the tensors it needs (a traceable side effect, so no graph
break); the statistics are computed from the stash eagerly when the step is drained.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import torch
from torch import Tensor

from attnlint.guard import recompute, stats
from attnlint.guard.cheap import CheapFlags
from attnlint.guard.collector import StepCollector
from attnlint.guard.config import GuardConfig
from attnlint.guard.finish import Ratio
from attnlint.guard.observe import Installed

_MISSING = object()


_CUDA = torch.cuda.is_available()


class Quiet:
    """Inference mode (no grad, no version counters: about a fifth less per op than
    ``no_grad`` on the small tensors of a statistic), no autocast and no interception
    while the guard computes. A plain class rather than a generator context manager: it is
    entered per site on sampled steps."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._saved: list[tuple[Any, bool, bool, bool]] = []

    def __enter__(self) -> None:
        ctx = self._ctx
        mode = torch.inference_mode()
        mode.__enter__()
        cuda = _CUDA and torch.is_autocast_enabled("cuda")
        cpu = torch.is_autocast_enabled("cpu")
        self._saved.append((mode, cpu, cuda, ctx.intercept_paused))
        if cpu:
            torch.set_autocast_enabled("cpu", False)
        if cuda:
            torch.set_autocast_enabled("cuda", False)
        ctx.intercept_paused = True

    def __exit__(self, *exc: object) -> None:
        mode, cpu, cuda, paused = self._saved.pop()
        if cpu:
            torch.set_autocast_enabled("cpu", True)
        if cuda:
            torch.set_autocast_enabled("cuda", True)
        self._ctx.intercept_paused = paused
        mode.__exit__(None, None, None)


def _detached(x: Any) -> Any:
    """``x`` with every tensor in it (in plain tuples, lists and dicts) detached. A stashed
    tensor is an output of the compiled graph: one that requires grad gets a tangent, a
    zero tensor that the graph's backward materialises and adds up for nothing. Other
    containers (a named tuple, a model output) are stashed as they are."""
    if isinstance(x, Tensor):
        return x.detach()
    kind = type(x)
    if kind is tuple or kind is list:
        return kind(_detached(v) for v in x)
    if kind is dict:
        return {k: _detached(v) for k, v in x.items()}
    return x


class Context:
    """State shared by the facade and its observers for the current step."""

    def __init__(self, config: GuardConfig, sites: dict[str, str], device: torch.device) -> None:
        self.config = config
        self.sites = sites  # site -> how it is observed (observers add run-time sites)
        self.collector = StepCollector()
        self.cheap = CheapFlags(device)
        # True from the first observed forward of a sampled step until its end; read by
        # every observer first, and the only thing compiled graphs are specialised on
        self.capturing = False
        self.sample_now = True  # the current step is sampled (set by the facade)
        self.paused = False
        self.intercept_paused = False
        self.quiet = Quiet(self)
        # Containers that compiled code writes to are cleared, never replaced, so that a
        # graph never depends on which object they are.
        # sampled-step work stashed inside compiled regions, computed when drained
        self.stash: dict[str, tuple[Callable[..., None], tuple]] = {}

    @property
    def later(self) -> bool:
        """Sampled-step work is not done where it is found (inside a compiled region): an
        observer then hands over copies of the weights the statistics need, since the
        optimizer may change them before the step is drained."""
        return compiling()

    def defer(self, key: str, fn: Callable[..., None], *args: Any) -> None:
        """Sampled-step work: stashed inside a compiled region (computed by ``drain``),
        done now elsewhere."""
        if compiling():
            self.stash[key] = (fn, _detached(args))
        else:
            fn(*args)

    def drain(self) -> None:
        """Compute what was stashed inside compiled regions (eagerly, in stash order)."""
        work = list(self.stash.values())
        self.stash.clear()
        for fn, args in work:
            fn(*args)

    def new_step(self) -> None:
        self.collector = StepCollector()
        self.stash.clear()
        self.capturing = False

    def store_attention(
        self, site: str, att: recompute.Attention, ratios: Mapping[str, Ratio]
    ) -> None:
        cfg = self.config
        parts, finish = stats.attention_parts(
            att.probs,
            att.valid,
            att.query_valid,
            att.logits,
            cfg.logit_saturation_threshold,
            cfg.stats_rows,
            materialised=att.materialised,
            topk_budget=cfg.stats_topk_rows,
        )
        rec = self.collector.record(site)
        rec.store(parts, finish)
        rec.ratios.update(ratios)


class Observer(Protocol):
    """One kind of site: installs its hooks or wrappers into the ledger ``close()`` undoes."""

    def install(self, installed: Installed) -> None: ...


def compiling() -> bool:
    """Inside a region dynamo is tracing (a constant to dynamo, False when eager)."""
    return torch.compiler.is_compiling()


def arg(args: tuple, kwargs: dict, index: int, name: str, default: Any = None) -> Any:
    """A call's argument by position or name: what ``inspect.signature(...).bind`` gives for
    one parameter, without binding the whole signature on every call."""
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def tensors(obj: Any) -> list[Tensor]:
    """Every tensor in a (nested) output: a list, not a generator, so that dynamo can
    trace it wherever a graph starts."""
    if isinstance(obj, Tensor):
        return [obj]
    found: list[Tensor] = []
    if isinstance(obj, Mapping):
        for v in obj.values():
            found.extend(tensors(v))
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            found.extend(tensors(v))
    return found


def first_float(obj: Any) -> Tensor | None:
    for t in tensors(obj):
        if t.is_floating_point():
            return t
    return None


def snapshot(module: torch.nn.Module, names: tuple[str, ...]) -> dict[str, Tensor]:
    """Copies of ``module``'s parameters ``names`` taken now (traceable: no graph break), so
    that statistics computed from a stash after the optimizer stepped still see the
    weights of the forward. ``with_params`` makes the stand-in module at the drain."""
    copies = {}
    for n in names:
        t = getattr(module, n, None)
        if isinstance(t, Tensor):
            copies[n] = t.detach().clone()
    return copies


def with_params(module: torch.nn.Module, copies: Mapping[str, Tensor]) -> Any:
    """``module`` with ``copies`` in place of its parameters (a read-only stand-in)."""
    return _View(module, copies) if copies else module


class _View:
    def __init__(self, module: torch.nn.Module, copies: Mapping[str, Tensor]) -> None:
        self.__dict__.update(copies)
        self._module = module

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)
