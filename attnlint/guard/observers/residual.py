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
from attnlint.guard.observers.base import Context, compiling


class ResidualObserver:
    def __init__(self, ctx: Context, blocks: dict[str, nn.Module]) -> None:
        self.ctx = ctx
        self.blocks = blocks

    def install(self, installed: Installed) -> None:
        for path, block in self.blocks.items():
            installed.handles.append(block.register_forward_pre_hook(self._pre(block)))
            installed.handles.append(block.register_forward_hook(self._post(path, block)))

    def _pre(self, block: nn.Module) -> Any:
        key = id(block)

        def hook(module: nn.Module, args: tuple) -> None:
            if self.ctx.capturing and args and isinstance(args[0], Tensor):
                self.ctx.pending[key] = args[0]

        return hook

    def _post(self, path: str, block: nn.Module) -> Any:
        key = id(block)

        def hook(module: nn.Module, args: tuple, output: Any) -> None:
            if not self.ctx.capturing:
                return
            x = self.ctx.pending.pop(key, None)
            if x is None or not isinstance(output, Tensor):
                return
            if compiling():
                self.ctx.defer(f"{path}:residual", self.observe, path, x, output)
            else:
                self.observe(path, x, output)

        return hook

    def observe(self, path: str, x: Tensor, output: Tensor) -> None:
        rec = self.ctx.collector.site_recorded_in(path)
        if rec is not None and output.shape == x.shape:
            with self.ctx.quiet:
                rec.values["residual_ratio"] = stats.residual_ratio(output.detach(), x.detach())
