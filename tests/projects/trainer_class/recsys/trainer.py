import logging

import torch
import torch.nn.functional as F
from torch.nn.utils import clip_grad_norm_

import recsys.build as build

log = logging.getLogger(__name__)


def soft_sort(s, tau):
    s = torch.where(torch.isnan(s), torch.zeros_like(s), s)
    return torch.sigmoid((s[..., :, None] - s[..., None, :]) / tau).sum(-1)


class Trainer:
    def __init__(self, settings, loader):
        self.settings = settings
        self.loader = loader
        first = next(iter(loader))
        n_feats = int(first["feats"].size(-1))
        self.model = build.create(settings, n_feats=n_feats)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=settings.optim.lr)
        self.history = []

    def clip(self):
        return clip_grad_norm_(self.model.parameters(), self.settings.optim.max_norm)

    def _surrogate(self, scores, labels):
        scores = torch.clip(scores, -10.0, 10.0)
        return F.binary_cross_entropy_with_logits(scores, labels)

    def train_epoch(self):
        for batch in self.loader:
            scores = self.model(batch["feats"], batch["valid"])
            ranks = soft_sort(scores, self.settings.train.tau)
            loss = F.mse_loss(ranks, batch["rank"]) + self._surrogate(scores, batch["label"])
            self.opt.zero_grad()
            loss.backward()
            self.clip()
            self.opt.step()
            self.history.append(loss.item())

    def train_epoch_logged(self):
        for batch in self.loader:
            scores = self.model(batch["feats"], batch["valid"])
            loss = self._surrogate(scores, batch["label"])
            self.opt.zero_grad()
            loss.backward()
            gn = self.clip()
            log.info("grad norm %.3f", gn)
            self.opt.step()
