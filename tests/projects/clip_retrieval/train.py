import math

import torch
from accelerate import Accelerator
from losses import LOSSES, hard_negative_triplet
from model import DualEncoder


def train(cfg, loader):
    accelerator = Accelerator(mixed_precision="fp16", log_with="wandb")
    accelerator.init_trackers("retrieval", config=vars(cfg))
    model = DualEncoder(cfg.dim, cfg.embed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.2)
    model, opt, loader = accelerator.prepare(model, opt, loader)
    loss_fn = LOSSES[cfg.loss]
    step = 0
    for epoch in range(cfg.epochs):
        for images, ids, pad_mask in loader:
            out = model(images, ids, pad_mask)
            logits = out["logits_per_image"]
            loss = loss_fn(logits) + cfg.w_triplet * hard_negative_triplet(logits)
            accelerator.backward(loss)
            grad_norm = accelerator.clip_grad_norm_(model.parameters(), cfg.max_norm)
            opt.step()
            opt.zero_grad()
            with torch.no_grad():
                unwrapped = accelerator.unwrap_model(model)
                unwrapped.logit_scale.data = torch.clamp(
                    unwrapped.logit_scale.data, 0, math.log(100)
                )
            accelerator.log({"loss": loss.item(), "grad_norm": grad_norm.item()}, step=step)
            step += 1
    accelerator.end_training()
