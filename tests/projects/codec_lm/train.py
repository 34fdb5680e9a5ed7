import os
from dataclasses import dataclass

import lightning as L
import torch
from data import CodecTokenDataset, collate_codes
from losses import codebook_ce
from model import CodecLM


@dataclass
class TrainCfg:
    data_dir: str = os.environ.get("CODEC_DATA", "/data/codec_tokens")
    batch_size: int = 32
    lr: float = 3e-4
    warmup: int = 2000
    steps: int = 200_000
    max_norm: float = 1.0
    log_every: int = 100


def lr_at(step, cfg):
    return cfg.lr * min(1.0, (step + 1) / cfg.warmup)


def main(cfg: TrainCfg):
    fabric = L.Fabric(accelerator="cuda", devices=8, strategy="ddp", precision="bf16-mixed")
    fabric.launch()
    model = CodecLM()
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=cfg.lr, betas=(0.9, 0.95), weight_decay=0.1
    )
    model, optimizer = fabric.setup(model, optimizer)
    loader = fabric.setup_dataloaders(
        torch.utils.data.DataLoader(
            CodecTokenDataset(cfg.data_dir), cfg.batch_size, collate_fn=collate_codes
        )
    )
    step = 0
    while step < cfg.steps:
        for batch in loader:
            codes, targets, pad_mask = batch["codes"], batch["targets"], batch["pad_mask"]
            text = batch["text_emb"].nan_to_num(0.0)
            for g in optimizer.param_groups:
                g["lr"] = lr_at(step, cfg)
            logits = model(codes, text)
            loss = codebook_ce(logits, targets, pad_mask)
            fabric.backward(loss)
            fabric.clip_gradients(model, optimizer, max_norm=cfg.max_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if step % cfg.log_every == 0:
                fabric.log("train/loss", loss.item(), step=step)
            step += 1


if __name__ == "__main__":
    main(TrainCfg())
