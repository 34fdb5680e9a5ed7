import logging

import torch
import torch.nn.functional as F
import yaml
from dataset import TagDataset
from model import build_model
from torch.utils.data import DataLoader

log = logging.getLogger("audiotag")


def main(path="configs/audioset.yaml"):
    with open(path) as f:
        cfg = yaml.safe_load(f)
    ds = TagDataset(cfg["data"]["root"], split="train")
    loader = DataLoader(ds, batch_size=cfg["train"]["bs"], shuffle=True, num_workers=4)
    first = next(iter(loader))
    n_bins = first["spec"].shape[-1]
    model = build_model(cfg, feat_dim_override=n_bins)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["train"]["lr"])
    for epoch in range(cfg["train"]["epochs"]):
        for step, batch in enumerate(loader):
            logits = model(batch["spec"])
            loss = F.binary_cross_entropy_with_logits(logits, batch["tags"].float())
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["train"]["clip"])
            opt.step()
            if step % 50 == 0:
                probs = torch.sigmoid(logits).clamp(1e-6, 1 - 1e-6)
                log.info(
                    "epoch %d step %d loss %.4f mean p %.3f", epoch, step, loss.item(), probs.mean()
                )


if __name__ == "__main__":
    main()
