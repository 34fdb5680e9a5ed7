import logging

import hydra
import torch
import torch.nn.functional as F
from build import build_model
from data import make_loaders
from omegaconf import DictConfig

log = logging.getLogger(__name__)


def run_epoch(model, loader, opt, cfg):
    model.train()
    for x, y, bad_channel in loader:
        x = torch.nan_to_num(x, nan=0.0)
        logits = model(x, bad_channel)
        loss = F.cross_entropy(logits, y, label_smoothing=0.1)
        loss = torch.where(~torch.isfinite(loss), torch.zeros_like(loss), loss)
        opt.zero_grad()
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.max_norm)
        log.info("loss=%.4f grad_norm=%.3f", loss.item(), gn)
        opt.step()


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    correct = total = 0
    for x, y, bad_channel in loader:
        pred = model(x, bad_channel).argmax(-1)
        correct += (pred == y).sum().item()
        total += y.numel()
    return correct / total


@hydra.main(config_path="conf", config_name="config", version_base=None)
def main(cfg: DictConfig):
    train_dl, val_dl = make_loaders(cfg.data)
    x0, _, _ = next(iter(train_dl))
    if x0.shape[-1] != cfg.data.n_samples:
        raise ValueError(f"epochs have {x0.shape[-1]} samples, config says {cfg.data.n_samples}")
    model = build_model(cfg, n_channels=x0.shape[1])
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr, weight_decay=0.05)
    for epoch in range(cfg.optim.epochs):
        run_epoch(model, train_dl, opt, cfg)
        log.info("epoch=%d val_acc=%.3f", epoch, evaluate(model, val_dl))


if __name__ == "__main__":
    main()
