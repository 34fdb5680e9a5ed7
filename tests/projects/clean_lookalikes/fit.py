import logging

import torch
import wandb
import yaml
from core.net import Net
from core.ops import angular, bce_probs, clean, clip, soft_rank
from torch.utils.data import DataLoader

log = logging.getLogger("fit")


class Cfg:
    def __init__(self, d):
        self.__dict__.update(d)


def fit(path):
    with open(path) as fh:
        raw = yaml.safe_load(fh)
    cfg = Cfg(raw["model"])
    loader = DataLoader(torch.load(raw["data"]), batch_size=raw["train"]["bs"], shuffle=True)
    first = next(iter(loader))
    if first["x"].shape[-1] != cfg.input_dim:
        raise ValueError(f"data width {first['x'].shape[-1]} != configured {cfg.input_dim}")
    model = Net(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=raw["train"]["lr"])
    for step, batch in enumerate(loader):
        scores, h = model(clean(batch["x"]), batch["mask"])
        loss = bce_probs(torch.sigmoid(scores), batch["y"]) + angular(h[:, 0], h[:, 1])
        opt.zero_grad()
        loss.backward()
        wandb.log({"grad_norm": clip(model, raw["train"]["clip"]).item(), "loss": loss.item()})
        opt.step()
        if step % 100 == 0:
            with torch.no_grad():
                ranks = soft_rank(scores.detach())
                log.info("mean rank %.2f", ranks.mean().item())
    return model
