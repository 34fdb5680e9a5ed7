"""The model itself: where a sampled step's capture begins and ends.

The first forward of a sampled step starts the capture (its input statistics) and ends
it when it returns (is any output NaN or +inf; do outputs vary across the batch). On
other steps the only work is the cheap check: one reduction per output, accumulated on
the device by ``CheapFlags`` (-inf is tolerated in outputs: masking padded scores with
-inf is an idiom; ``check_scores(scores, mask)`` is the strict test).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from attnlint.guard import stats
from attnlint.guard.observe import Installed
from attnlint.guard.observers.base import Context, compiling, first_float, tensors


def bad_flag(outs: list[Tensor]) -> Tensor:
    """0-d bool: NaN or +inf in any of ``outs``. ``amax`` propagates NaN, so one reduction
    per tensor (no full-size temporaries) answers both."""
    top = outs[0].amax() if len(outs) == 1 else torch.stack([t.amax().float() for t in outs]).amax()
    return ~(top < math.inf)


class RootObserver:
    """Wraps the root's ``forward`` on the instance, outermost of all wrappers, so that
    under torch.compile the capture logic and the model are traced as one frame (forward
    hooks on the root would be traced as frames of their own: one more graph per step).
    A root that carries site hooks itself (an attention module, a decoder layer) is
    observed with hooks instead, the post-hook registered last, so that it closes the
    capture after the site's own hook has run."""

    def __init__(self, ctx: Context, root: nn.Module, hooks: bool) -> None:
        self.ctx = ctx
        self.root = root
        self.hooks = hooks
        self.captured = False  # this step's capture is done (later forwards are not observed)

    def install(self, installed: Installed) -> None:
        if self.hooks:
            installed.handles.append(
                self.root.register_forward_pre_hook(self.pre, with_kwargs=True)
            )

    def install_last(self, installed: Installed) -> None:
        if self.hooks:
            installed.handles.append(
                self.root.register_forward_hook(self.post, with_kwargs=True, always_call=True)
            )
        else:
            installed.wrap_forward(self.root, self.around)

    def around(self, original: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        self.pre(self.root, args, kwargs)
        try:
            out = original(*args, **kwargs)
        except BaseException:
            self.post(self.root, args, kwargs, None)
            raise
        self.post(self.root, args, kwargs, out)
        return out

    def pre(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        ctx = self.ctx
        if ctx.paused or not ctx.sample_now or self.captured or ctx.capturing:
            return
        ctx.capturing = True
        ctx.collector.call_counts.clear()
        x = first_float((args, kwargs))
        if x is None or not x.numel():
            return
        if compiling():
            ctx.defer("input", self.observe_input, x)
        else:
            self.observe_input(x)

    def post(self, module: nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        ctx = self.ctx
        if not ctx.capturing:
            if ctx.paused or not ctx.config.cheap_checks:
                return
            outs = [t for t in tensors(output) if t.is_floating_point() and t.numel()]
            if outs:
                ctx.cheap.add("output", bad_flag([t.detach() for t in outs]))
            return
        ctx.capturing = False
        self.captured = True
        outs = [t.detach() for t in tensors(output) if t.is_floating_point() and t.numel()]
        if not outs:
            return
        if compiling():
            ctx.defer("output", self.observe_output, outs)
        else:
            self.observe_output(outs)

    def observe_input(self, x: Tensor) -> None:
        scalars = self.ctx.collector.scalars
        with self.ctx.quiet:
            xd = x.detach()
            self.ctx.collector.input_dim = int(xd.shape[-1]) if xd.dim() else None
            fx = xd.float()
            lo, hi = torch.aminmax(fx)
            scalars["input_bad"] = (~torch.isfinite(xd).all()).float()
            scalars.update({"input_min": lo, "input_max": hi, "input_mean": fx.mean()})

    def observe_output(self, outs: list[Tensor]) -> None:
        scalars = self.ctx.collector.scalars
        with self.ctx.quiet:
            scalars["output_bad"] = bad_flag(outs).float()
            first = next((t for t in outs if t.dim() >= 1 and t.shape[0] >= 2), None)
            if first is not None:
                # variance of each output element across the batch
                scalars["output_variance"] = stats.relative_variance(
                    first.reshape(first.shape[0], -1)[None], dim=1
                )
