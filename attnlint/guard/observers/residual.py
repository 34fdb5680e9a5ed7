"""Residual blocks (decoder layers, user blocks that add their input back): the update
ratio ||block(x) - x|| / ||x||.

The ratio goes to the first attention site recorded inside the block: a decoder layer's
``self_attn``, a user block's own site or a child's. Sites of untraceable code exist only
once they ran, so the site is looked up when the block returns, not at discovery.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from attnlint.guard import stats
from attnlint.guard.observe import Installed
from attnlint.guard.observers.base import Context


class ResidualObserver:
    def __init__(self, ctx: Context, blocks: dict[str, nn.Module]) -> None:
        self.ctx = ctx
        self.blocks = blocks

    def install(self, installed: Installed) -> None:
        # a wrapper, not hooks: see ``observers.mha``
        for path, block in self.blocks.items():
            installed.wrap_forward(block, self._around(path))

    def _around(self, path: str) -> Any:
        ctx = self.ctx

        def around(original: Any, args: tuple, kwargs: dict) -> Any:
            if not ctx.capturing:
                return original(*args, **kwargs)
            x = args[0] if args and isinstance(args[0], Tensor) else None
            output = original(*args, **kwargs)
            if x is not None and isinstance(output, Tensor) and ctx.capturing:
                ctx.defer(f"{path}:residual", self.observe, path, x, output)
            return output

        return around

    def observe(self, path: str, x: Tensor, output: Tensor) -> None:
        rec = self.ctx.collector.site_recorded_in(path)
        if rec is not None and output.shape == x.shape:
            with self.ctx.quiet:
                rec.ratios["residual_ratio"] = stats.residual_parts(output.detach(), x.detach())
