from dataclasses import dataclass

import torch
import torch.nn as nn
from data import PointCloudDataset
from model import Perceiver
from utils import clean_batch, finite_or_zero


@dataclass
class Cfg:
    epochs: int = 100
    lr: float = 4e-4
    clip: float = 1.0
    cosine: bool = False


def train(cfg: Cfg):
    ds = PointCloudDataset("modelnet40", "train")
    loader = torch.utils.data.DataLoader(ds, batch_size=32, shuffle=True, drop_last=True)
    model = Perceiver(input_dim=3 + 64, num_classes=40, cosine=cfg.cosine)
    criterion = nn.CrossEntropyLoss(label_smoothing=0.2)
    opt = (
        torch.optim.LAMB(model.parameters(), lr=cfg.lr)
        if hasattr(torch.optim, "LAMB")
        else torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    )
    for epoch in range(cfg.epochs):
        for points, mask, y in loader:
            out = model(clean_batch(points), mask)
            loss = criterion(out, y)
            loss = finite_or_zero(loss)
            opt.zero_grad()
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
            if norm > 50 * cfg.clip:
                print(f"epoch {epoch}: gradient spike {norm.item():.1f}")
            opt.step()


if __name__ == "__main__":
    train(Cfg())
