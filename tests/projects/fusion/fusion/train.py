import torch

from .config import FusionConfig
from .layers import build
from .losses import detection_loss


def clip_and_step(model, opt, max_norm):
    gn = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    opt.step()
    opt.zero_grad(set_to_none=True)
    return gn


def update(model, opt, max_norm):
    return clip_and_step(model, opt, max_norm)


def run(loader, device="cuda"):
    cfg = FusionConfig()
    model = build(cfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    for epoch in range(cfg.epochs):
        for batch in loader:
            batch = {k: v.to(device) for k, v in batch.items()}
            radar = torch.nan_to_num(batch["radar"], nan=0.0)
            outputs = model(batch["lidar"], batch["lidar_valid"], radar, batch["radar_valid"])
            loss = detection_loss(outputs, batch)
            loss.backward()
            update(model, opt, cfg.max_norm)
        print(f"epoch {epoch} loss {loss.item():.4f}")
    return model
