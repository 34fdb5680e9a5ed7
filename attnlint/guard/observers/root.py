"""The model itself: where a sampled step's capture begins and ends.

The first forward of a sampled step starts the capture (its input statistics) and ends
it when it returns (is any output NaN or +inf; do outputs vary across the batch). On
other steps the only work is the cheap check, kept for the next sampled step by
``cheap.CheapFlags`` (-inf is tolerated in outputs: masking padded scores with
-inf is an idiom; ``check_scores(scores, mask)`` is the strict test).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from attnlint.guard import stats
from attnlint.guard.cheap import output_bad
from attnlint.guard.observe import Installed
from attnlint.guard.observers.base import Context, compiling, first_float, tensors


class RootObserver:
    """Wraps the root's ``forward`` on the instance, outermost of all wrappers (it is
    installed last, also when the root is a site itself), so that under torch.compile the
    capture logic and the model are traced as one frame (forward hooks on the root would
    be traced as frames of their own: one more graph per step)."""

    def __init__(self, ctx: Context, root: nn.Module) -> None:
        self.ctx = ctx
        self.root = root
        self.captured = False  # this step's capture is done (later forwards are not observed)

    def install(self, installed: Installed) -> None:
        """After every site observer: the root's wrapper must be the outermost."""
        installed.wrap_forward(self.root, self.around)

    def around(self, original: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        ctx = self.ctx
        if not ctx.sample_now and not ctx.capturing:  # most steps: the cheap check only
            out = original(*args, **kwargs)
            if not ctx.paused and ctx.config.cheap_checks:
                self.cheap(out)
            return out
        self.pre(self.root, args, kwargs)
        try:
            out = original(*args, **kwargs)
        except BaseException:
            self.post(self.root, args, kwargs, None)
            raise
        self.post(self.root, args, kwargs, out)
        return out

    def cheap(self, output: Any) -> None:
        outs = [t for t in tensors(output) if t.is_floating_point() and t.numel()]
        if not outs:
            return
        if compiling():  # no tensor op in the graph: the eager step() settles them
            self.ctx.cheap.hold(outs)
        elif len(outs) != 1 or not self.ctx.cheap.defer("output", outs[0]):
            self.ctx.cheap.add("output", output_bad([t.detach() for t in outs]))

    def pre(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        ctx = self.ctx
        if ctx.paused or not ctx.sample_now or self.captured or ctx.capturing:
            return
        ctx.capturing = True
        ctx.collector.call_counts.clear()
        x = first_float((args, kwargs))
        if x is None or not x.numel():
            return
        ctx.defer("input", self.observe_input, x)

    def post(self, module: nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        ctx = self.ctx
        if not ctx.capturing:
            if not ctx.paused and ctx.config.cheap_checks:
                self.cheap(output)
            return
        ctx.capturing = False
        self.captured = True
        outs = [t.detach() for t in tensors(output) if t.is_floating_point() and t.numel()]
        if not outs:
            return
        ctx.defer("output", self.observe_output, outs)

    def observe_input(self, x: Tensor) -> None:
        scalars = self.ctx.collector.scalars
        with self.ctx.quiet:
            xd = x.detach()
            self.ctx.collector.input_dim = int(xd.shape[-1]) if xd.dim() else None
            fx = xd.float()
            lo, hi = torch.aminmax(fx)
            # NaN or inf anywhere shows in the extremes (both propagate NaN): x * 0 is NaN
            # for them and 0 otherwise, where isfinite(x).all() is ten times a reduction
            scalars["input_bad"] = (lo * 0 + hi * 0).ne_(0).float()
            scalars.update({"input_min": lo, "input_max": hi, "input_mean": fx.mean()})

    def observe_output(self, outs: list[Tensor]) -> None:
        scalars = self.ctx.collector.scalars
        with self.ctx.quiet:
            scalars["output_bad"] = output_bad(outs).float()
            first = next((t for t in outs if t.dim() >= 1 and t.shape[0] >= 2), None)
            if first is not None:
                # variance of each output element across the batch
                self.ctx.collector.ratios["output_variance"] = stats.relative_variance_parts(
                    first.reshape(first.shape[0], -1)[None], dim=1
                )
