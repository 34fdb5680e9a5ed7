import logging
from collections import defaultdict

import numpy as np
import torch

logger = logging.getLogger(__name__)


class Trainer:
    def __init__(self, model, optimizer, criterion, cfg, scheduler=None):
        self.model = model
        self.optimizer = optimizer
        self.criterion = criterion
        self.cfg = cfg
        self.scheduler = scheduler
        self.scaler = torch.cuda.amp.GradScaler(enabled=cfg.amp)
        self.history = defaultdict(list)

    def _clip(self):
        if self.cfg.max_grad_norm <= 0:
            return None
        return torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.max_grad_norm)

    def train_epoch(self, loader):
        self.model.train()
        losses = []
        for x_enc, x_mark, missing, y, y_mask in loader:
            pred = self.model(x_enc, x_mark, missing)
            pred = torch.where(~torch.isfinite(pred), torch.zeros_like(pred), pred)
            loss = self.criterion(pred[y_mask], y[y_mask])
            self.optimizer.zero_grad()
            loss.backward()
            self._clip()
            self.optimizer.step()
            losses.append(loss.item())
        return float(np.mean(losses))

    def train_epoch_amp(self, loader):
        self.model.train()
        losses = []
        for x_enc, x_mark, missing, y, y_mask in loader:
            with torch.autocast("cuda", dtype=torch.bfloat16):
                pred = self.model(x_enc, x_mark, missing)
                pred = pred.clamp(min=0.0)  # demand is never negative
                loss = self.criterion(pred[y_mask], y[y_mask])
            self.optimizer.zero_grad()
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
            gn = self._clip()
            if gn is not None:
                self.history["grad_norm"].append(float(gn))
            self.scaler.step(self.optimizer)
            self.scaler.update()
            losses.append(loss.item())
        return float(np.mean(losses))

    @torch.no_grad()
    def evaluate(self, loader):
        self.model.eval()
        err, n = 0.0, 0
        for x_enc, x_mark, missing, y, y_mask in loader:
            pred = torch.nan_to_num(self.model(x_enc, x_mark, missing))
            err += (pred - y).abs()[y_mask].sum().item()
            n += int(y_mask.sum())
        return err / max(n, 1)

    def fit(self, train_loader, valid_loader, epochs):
        for epoch in range(epochs):
            run = self.train_epoch_amp if self.cfg.amp else self.train_epoch
            tr = run(train_loader)
            va = self.evaluate(valid_loader)
            if self.scheduler is not None:
                self.scheduler.step(va)
            logger.info("epoch %d train %.4f valid MAE %.4f", epoch, tr, va)
