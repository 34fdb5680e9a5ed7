import argparse
import dataclasses
import json

import torch
import torch.nn.functional as F
from config import ModelConfig, TrainConfig
from model import SignTransformer
from torch.utils.data import DataLoader, TensorDataset, random_split


class Trainer:
    def __init__(self, cfg: TrainConfig, model, train_loader, val_loader):
        self.cfg = cfg
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model = model.to(self.device)
        self.train_loader, self.val_loader = train_loader, val_loader
        self.opt = torch.optim.AdamW(
            self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay
        )
        self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.opt, T_max=cfg.epochs * len(train_loader)
        )
        self.history = []

    def _optimizer_step(self):
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.max_grad_norm)
        self.opt.step()
        self.sched.step()
        self.opt.zero_grad(set_to_none=True)
        return norm

    def train_epoch(self, epoch):
        self.model.train()
        total = 0.0
        for landmarks, hands, frame_mask, label in self.train_loader:
            landmarks, hands = landmarks.to(self.device), hands.to(self.device)
            frame_mask, label = frame_mask.to(self.device), label.to(self.device)
            logits = self.model(landmarks, hands, frame_mask)
            loss = F.cross_entropy(logits, label, label_smoothing=0.1)
            loss.backward()
            self._optimizer_step()
            total += loss.item()
        return total / len(self.train_loader)

    @torch.no_grad()
    def evaluate(self):
        self.model.eval()
        correct = n = 0
        for landmarks, hands, frame_mask, label in self.val_loader:
            logits = self.model(
                landmarks.to(self.device), hands.to(self.device), frame_mask.to(self.device)
            )
            correct += (logits.argmax(-1).cpu() == label).sum().item()
            n += label.numel()
        return correct / max(n, 1)

    def fit(self):
        for epoch in range(self.cfg.epochs):
            loss = self.train_epoch(epoch)
            acc = self.evaluate()
            self.history.append(
                {"epoch": epoch, "loss": loss, "val_acc": acc, "lr": self.sched.get_last_lr()[0]}
            )
            print(json.dumps(self.history[-1]))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--overrides", default="{}")
    ov = json.loads(p.parse_args().overrides)
    model_ov = ov.pop("model", {})
    cfg = TrainConfig(**ov, model=ModelConfig(**model_ov))
    blob = torch.load(cfg.data)
    ds = TensorDataset(blob["landmarks"], blob["hands"], blob["frame_mask"], blob["label"])
    n_val = len(ds) // 10
    train_ds, val_ds = random_split(ds, [len(ds) - n_val, n_val])
    model = SignTransformer(cfg.model)
    trainer = Trainer(
        cfg,
        model,
        DataLoader(train_ds, cfg.batch_size, shuffle=True, drop_last=True),
        DataLoader(val_ds, cfg.batch_size),
    )
    print(dataclasses.asdict(cfg))
    trainer.fit()


if __name__ == "__main__":
    main()
