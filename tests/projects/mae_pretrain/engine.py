import math
import sys

import torch
from models.utils import clip_and_step, masked_mse, patchify


def train_one_epoch(model, loader, optimizer, scaler, lr_sched, epoch, args, log):
    model.train()
    for it, (imgs, _) in enumerate(loader):
        lr_sched.step()
        imgs = imgs.cuda(non_blocking=True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            pred, mask = model(imgs)
            target = patchify(imgs, args.patch)
            if args.norm_pix_loss:
                mean = target.mean(dim=-1, keepdim=True)
                var = target.var(dim=-1, keepdim=True)
                target = (target - mean) / (var + 1e-6) ** 0.5
            loss = masked_mse(pred, target, mask)
        if not math.isfinite(loss.item()):
            print(f"loss is {loss.item()}, stopping")
            sys.exit(1)
        scaler.scale(loss).backward()
        clip_and_step(model, optimizer, scaler, args.clip_grad)
        if it % args.log_every == 0:
            log.info(
                "epoch %d it %d loss %.4f lr %.2e",
                epoch,
                it,
                loss.item(),
                optimizer.param_groups[0]["lr"],
            )


@torch.no_grad()
def evaluate(model, loader, args):
    model.eval()
    total, n = 0.0, 0
    for imgs, _ in loader:
        pred, mask = model(imgs.cuda())
        target = patchify(imgs.cuda(), args.patch)
        total += masked_mse(pred.nan_to_num(), target, mask).item()
        n += 1
    return total / max(n, 1)
