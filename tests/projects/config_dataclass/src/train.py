import lightning as L
import torch
from torch.utils.data import DataLoader

from src.config import TrainConfig
from src.losses import focal_loss
from src.model import SeqClassifier


def main(train_set, n_classes):
    cfg = TrainConfig()
    fabric = L.Fabric(accelerator="auto", precision="bf16-mixed")
    fabric.launch()
    model = SeqClassifier(cfg.model, n_classes)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    model, optimizer = fabric.setup(model, optimizer)
    loader = fabric.setup_dataloaders(
        DataLoader(train_set, batch_size=cfg.batch_size, shuffle=True)
    )
    for epoch in range(cfg.epochs):
        for x, y in loader:
            logits = model(x)
            loss = focal_loss(logits, y, gamma=cfg.gamma)
            optimizer.zero_grad()
            fabric.backward(loss)
            fabric.clip_gradients(model, optimizer, max_norm=cfg.max_norm)
            optimizer.step()
        fabric.print(f"epoch {epoch}: loss {loss.item():.4f}")
