"""One observer per kind of site, and the root that opens and closes a step's capture.

``Observers`` builds them from a ``sites.Discovery`` over one shared ``Context`` and
installs them in an order that matters: the root's pre-hook first (it opens the capture),
the site observers, then the root's post-hook last (it closes the capture after a site
hook on the root itself has run).
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
        root_is_layer = model in found.encoder_layers.values()
        self.root = RootObserver(ctx, model, is_layer=root_is_layer)
        self.mha = MHAObserver(ctx, found.mha)
        self.encoder = EncoderLayerObserver(
            ctx,
            found.encoder_layers,
            root_layer=model if root_is_layer else None,
            around_root=(self.root.pre, self.root.post) if root_is_layer else None,
        )
        self.residual = ResidualObserver(ctx, {**found.decoder_layers, **found.residual_blocks})
        self.scopes = ScopeObserver(ctx, found.scopes, {id(m): p for p, m in model.named_modules()})

    def install(self, installed: Installed) -> None:
        self.root.install(installed)
        for obs in (self.mha, self.encoder, self.residual, self.scopes):
            obs.install(installed)
        self.root.install_last(installed)

    def new_step(self, sample: bool) -> None:
        self.ctx.new_step()
        self.ctx.sample_now = sample
        self.root.captured = False
