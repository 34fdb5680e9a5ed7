import torch
import torch.nn.functional as F
from metrics import confusion, miou
from model import PointSegNet
from omegaconf import OmegaConf


def run(config_path, train_loader, val_loader, device="cuda"):
    cfg = OmegaConf.load(config_path)
    model = PointSegNet(cfg.model).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr, weight_decay=cfg.optim.wd)
    norms = []
    for epoch in range(cfg.optim.epochs):
        model.train()
        for batch in train_loader:
            xyz = batch["xyz"].to(device)
            xyz = xyz - xyz.mean(1, keepdim=True)
            feat = torch.cat(
                [xyz, batch["rgb"].to(device) / 255.0, batch["normal"].to(device)], dim=-1
            )
            labels = batch["label"].to(device)
            valid = (labels >= 0).float()
            logits = model(xyz, feat)
            point_loss = F.cross_entropy(
                logits.transpose(1, 2), labels.clamp(min=0), reduction="none"
            )
            point_loss = point_loss.masked_fill(torch.isnan(point_loss), 0.0)
            loss = (point_loss * valid).sum() / valid.sum().clamp(min=1)
            opt.zero_grad()
            loss.backward()
            norms.append(
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.max_norm).item()
            )
            opt.step()
        conf = sum(
            confusion(
                model(b["xyz"].to(device), b["feat"].to(device)),
                b["label"].to(device),
                cfg.model.num_classes,
            )
            for b in val_loader
        )
        print(
            f"epoch {epoch} mIoU {miou(conf):.3f} max grad norm {max(norms[-len(train_loader) :]):.2f}"
        )
    return model
