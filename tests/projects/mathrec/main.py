import argparse
import json
import logging

import deepspeed
import torch.nn.functional as F
from config import TrainConfig
from data import InkMLDataset, pad_collate
from engine import clip_gradients, cosine_lr, normalise_strokes
from model import OnlineWAP

log = logging.getLogger("wap")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="configs/wap_online.json")
    parser.add_argument("--local_rank", type=int, default=-1)
    parser = deepspeed.add_config_arguments(parser)
    cli = parser.parse_args()
    with open(cli.config) as f:
        cfg = TrainConfig.from_dict(json.load(f))

    train_ds = InkMLDataset(cfg.data_root, "train")
    sample = pad_collate([train_ds[i] for i in range(4)])
    log.info("points %s, targets %s", tuple(sample["points"].shape), tuple(sample["tgt_in"].shape))

    model = OnlineWAP(cfg.model)
    engine, optimizer, loader, _ = deepspeed.initialize(
        args=cli,
        model=model,
        model_parameters=model.parameters(),
        training_data=train_ds,
        collate_fn=pad_collate,
    )
    total = cfg.epochs * len(loader)
    step = 0
    for epoch in range(cfg.epochs):
        for batch in loader:
            points = normalise_strokes(batch["points"].to(engine.device))
            mask = batch["point_mask"].to(engine.device)
            logits = engine(points, mask, batch["tgt_in"].to(engine.device))
            loss = F.cross_entropy(
                logits.flatten(0, 1), batch["tgt_out"].to(engine.device).flatten(), ignore_index=0
            )
            engine.backward(loss)
            clip_gradients(engine.module, cfg.max_norm)
            for g in optimizer.param_groups:
                g["lr"] = cosine_lr(step, total, 2e-4)
            engine.step()
            step += 1
            if step % 100 == 0 and engine.global_rank == 0:
                log.info("epoch %d step %d loss %.4f", epoch, step, loss.item())


if __name__ == "__main__":
    main()
