from dataclasses import dataclass, field

import torch
from losses import combine_losses
from model import MultimodalSentiment


@dataclass
class TrainConfig:
    vocab: int = 30522
    audio_dim: int = 74
    video_dim: int = 35
    lr: float = 5e-4
    epochs: int = 30
    max_norm: float = 0.8
    weights: dict = field(default_factory=lambda: {"reg": 1.0, "cls": 0.5, "cons": 0.1})


class Trainer:
    def __init__(self, cfg: TrainConfig, train_loader, val_loader, device="cuda"):
        self.cfg = cfg
        self.train_loader, self.val_loader = train_loader, val_loader
        self.device = device
        first = next(iter(train_loader))
        if first["audio"].shape[-1] != cfg.audio_dim or first["video"].shape[-1] != cfg.video_dim:
            raise ValueError("feature widths differ from the configuration")
        self.model = MultimodalSentiment(cfg.vocab, cfg.audio_dim, cfg.video_dim).to(device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        self.history = []

    def _to(self, batch):
        return {k: v.to(self.device) for k, v in batch.items()}

    def _clip(self):
        return torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.max_norm)

    def train_step(self, batch):
        outputs = self.model(batch)
        loss, parts = combine_losses(outputs, batch, self.cfg.weights)
        self.opt.zero_grad()
        loss.backward()
        self._clip()
        self.opt.step()
        return loss.item(), parts

    @torch.no_grad()
    def evaluate(self):
        self.model.eval()
        maes, accs = [], []
        for batch in self.val_loader:
            batch = self._to(batch)
            out = self.model(batch)
            pred = out["sentiment"]
            finite = torch.isfinite(pred)
            maes.append((pred[finite] - batch["sentiment"][finite]).abs().mean().item())
            accs.append(((pred > 0) == (batch["sentiment"] > 0)).float().mean().item())
        self.model.train()
        return sum(maes) / len(maes), sum(accs) / len(accs)

    def fit(self):
        for epoch in range(self.cfg.epochs):
            for batch in self.train_loader:
                loss, parts = self.train_step(self._to(batch))
                self.history.append((epoch, loss, {k: v.item() for k, v in parts.items()}))
            mae, acc = self.evaluate()
            print(f"epoch {epoch}: loss={loss:.4f} val_mae={mae:.4f} val_acc2={acc:.4f}")
