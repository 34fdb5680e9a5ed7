import sys

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from factory import build_model
from omegaconf import OmegaConf
from torch.utils.data import DataLoader, Dataset


class RadarSequences(Dataset):
    def __init__(self, path, context, horizon):
        self.frames = torch.load(path, mmap=True)
        self.context, self.horizon = context, horizon

    def __len__(self):
        return self.frames.shape[0] - self.context - self.horizon

    def __getitem__(self, i):
        x = self.frames[i : i + self.context]
        y = self.frames[i + self.context : i + self.context + self.horizon, 0]
        return {"radar": x, "target": y}


def csi(pred, target, thr=1.0):
    hit = ((pred >= thr) & (target >= thr)).sum()
    miss = ((pred < thr) & (target >= thr)).sum()
    fa = ((pred >= thr) & (target < thr)).sum()
    return hit / (hit + miss + fa).clamp(min=1)


def main(path):
    cfg = OmegaConf.merge(OmegaConf.load(path), OmegaConf.from_cli(sys.argv[2:]))
    accelerator = Accelerator(mixed_precision="bf16", log_with="wandb")
    accelerator.init_trackers("nowcast", config=OmegaConf.to_container(cfg))
    ds = RadarSequences(cfg.data.path, cfg.data.context, cfg.data.horizon)
    loader = DataLoader(ds, batch_size=cfg.batch_size, shuffle=True, num_workers=8)
    first = next(iter(loader))
    if first["radar"].shape[1] != cfg.data.context:
        raise ValueError(
            f"expected {cfg.data.context} context frames, got {first['radar'].shape[1]}"
        )
    model = build_model(cfg, in_channels=first["radar"].shape[2])
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr)
    model, opt, loader = accelerator.prepare(model, opt, loader)
    step = 0
    for epoch in range(cfg.epochs):
        for batch in loader:
            radar = torch.nan_to_num(batch["radar"], nan=0.0)
            pred = model(radar).clamp(min=0)
            loss = F.mse_loss(pred, batch["target"])
            accelerator.backward(loss)
            accelerator.clip_grad_norm_(model.parameters(), cfg.optim.max_norm)
            opt.step()
            opt.zero_grad()
            if step % 100 == 0:
                accelerator.log(
                    {"loss": loss.item(), "csi": csi(pred.detach(), batch["target"]).item()},
                    step=step,
                )
            step += 1
    accelerator.end_training()


if __name__ == "__main__":
    main(sys.argv[1])
