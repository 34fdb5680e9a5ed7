import logging

import torch
import torch.nn.functional as F
from config import ReportConfig
from modules import ReportGenerator

logger = logging.getLogger(__name__)


def token_nll(logits, targets, pad_id):
    loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=pad_id)
    return torch.nan_to_num(loss, nan=0.0)


class Trainer:
    def __init__(self, cfg: ReportConfig, train_loader, val_loader, device="cuda"):
        self.cfg = cfg
        self.train_loader = train_loader
        self.val_loader = val_loader
        self.device = device
        self.model = ReportGenerator(
            cfg.visual_feat_dim, cfg.d_model, cfg.n_heads, cfg.n_layers, cfg.vocab_size, cfg.max_len
        ).to(device)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr)
        self.scaler = torch.cuda.amp.GradScaler(enabled=cfg.amp)
        self.step = 0

    def _backward(self, loss):
        self.scaler.scale(loss).backward()

    def _clip(self):
        self.scaler.unscale_(self.optimizer)
        return torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.max_grad_norm)

    def train_epoch(self):
        self.model.train()
        for batch in self.train_loader:
            regions = batch["regions"].to(self.device)
            mask = batch["region_mask"].to(self.device)
            tokens = batch["tokens"].to(self.device)
            with torch.autocast("cuda", enabled=self.cfg.amp):
                logits = self.model(regions, mask, tokens[:, :-1])
                loss = token_nll(logits, tokens[:, 1:], self.cfg.pad_id)
            self.optimizer.zero_grad(set_to_none=True)
            self._backward(loss)
            self._clip()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.step += 1
            if self.step % 100 == 0:
                logger.info("step %d loss %.4f", self.step, loss.item())

    @torch.no_grad()
    def validate(self):
        self.model.eval()
        losses = []
        for batch in self.val_loader:
            tokens = batch["tokens"].to(self.device)
            logits = self.model(
                batch["regions"].to(self.device),
                batch["region_mask"].to(self.device),
                tokens[:, :-1],
            )
            losses.append(token_nll(logits, tokens[:, 1:], self.cfg.pad_id).item())
        return sum(losses) / len(losses)

    def fit(self):
        for epoch in range(self.cfg.epochs):
            self.train_epoch()
            logger.info("epoch %d val_nll %.4f", epoch, self.validate())
