from collections import defaultdict

import torch
from config import TrainConfig
from losses import char_error_rate, seq_ce_loss
from model import OCRModel


def build_model(cfg, in_channels=None):
    channels = in_channels or cfg.model.in_channels
    m = cfg.model
    return OCRModel(channels, m.d_model, m.n_heads, m.vocab_size, m.max_len)


class Trainer:
    def __init__(self, cfg: TrainConfig, train_loader, val_loader):
        self.cfg = cfg
        self.train_loader = train_loader
        self.val_loader = val_loader
        first_images = next(iter(train_loader))["images"]
        self.model = build_model(cfg, in_channels=first_images.shape[1])
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        self.history = defaultdict(list)

    def train_step(self, batch):
        self.model.train()
        logits = self.model(batch["images"], batch["tgt_in"], batch["memory_pad"])
        loss = seq_ce_loss(logits, batch["tgt_out"], self.cfg.pad_id)
        self.opt.zero_grad()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.max_norm)
        self.history["grad_norm"].append(norm.item())
        self.opt.step()
        return loss.item()

    @torch.no_grad()
    def validate(self):
        self.model.eval()
        cers = []
        for batch in self.val_loader:
            logits = self.model(batch["images"], batch["tgt_in"], batch["memory_pad"])
            cers.append(char_error_rate(logits, batch["tgt_out"], self.cfg.pad_id))
        return sum(cers) / len(cers)

    def fit(self):
        for epoch in range(self.cfg.epochs):
            losses = [self.train_step(b) for b in self.train_loader]
            self.history["loss"].append(sum(losses) / len(losses))
            self.history["cer"].append(self.validate())
