"""One observer per kind of site, and the root that opens and closes a step's capture.

``Observers`` builds them from a ``sites.Discovery`` over one shared ``Context`` and
installs them in an order that matters: the root opens the capture before any site runs
and closes it after the last one (its wrapper is the outermost; see ``root``).
"""

from __future__ import annotations

import torch
from torch import nn

from attnlint.guard.config import GuardConfig
from attnlint.guard.observe import Installed
from attnlint.guard.observers.base import Context, Observer
from attnlint.guard.observers.encoder import EncoderLayerObserver
from attnlint.guard.observers.mha import MHAObserver
from attnlint.guard.observers.residual import ResidualObserver
from attnlint.guard.observers.root import RootObserver
from attnlint.guard.observers.scopes import ScopeObserver
from attnlint.guard.sites import Discovery

__all__ = [
    "Context",
    "EncoderLayerObserver",
    "MHAObserver",
    "Observer",
    "Observers",
    "ResidualObserver",
    "RootObserver",
    "ScopeObserver",
]


def model_device(model: nn.Module) -> torch.device:
    for t in model.parameters():
        return t.device
    for t in model.buffers():
        return t.device
    return torch.device("cpu")


class Observers:
    def __init__(
        self, model: nn.Module, found: Discovery, config: GuardConfig, sites: dict[str, str]
    ) -> None:
        self.ctx = ctx = Context(config, sites, model_device(model))
        blocks = {**found.decoder_layers, **found.residual_blocks}
        self.root = RootObserver(ctx, model)
        self.mha = MHAObserver(ctx, found.mha)
        self.encoder = EncoderLayerObserver(ctx, found.encoder_layers)
        self.residual = ResidualObserver(ctx, blocks)
        self.scopes = ScopeObserver(ctx, found.scopes, {id(m): p for p, m in model.named_modules()})

    def install(self, installed: Installed) -> None:
        for obs in (self.mha, self.encoder, self.residual, self.scopes):
            obs.install(installed)
        self.root.install(installed)  # last: the outermost wrapper

    def new_step(self, sample: bool) -> None:
        self.ctx.new_step()
        self.ctx.sample_now = sample
        self.root.captured = False
        self.scopes.calls = 0
