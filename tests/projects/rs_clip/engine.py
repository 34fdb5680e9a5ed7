import logging
import math

import torch
import torch.nn.functional as F

log = logging.getLogger("geoclip")


def clip_and_step(model, optimizer, scaler, max_norm):
    scaler.unscale_(optimizer)
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad(set_to_none=True)
    return norm


def contrastive_loss(logits):
    labels = torch.arange(logits.shape[0], device=logits.device)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels))


def train_one_epoch(model, loader, optimizer, scaler, args, epoch):
    model.train()
    for step, (img, meta, ids, pad) in enumerate(loader):
        img, meta, ids, pad = img.cuda(), meta.cuda(), ids.cuda(), pad.cuda()
        with torch.autocast("cuda", dtype=torch.float16):
            logits = model(img, meta, ids, pad)
            loss = contrastive_loss(logits)
        scaler.scale(loss).backward()
        clip_and_step(model, optimizer, scaler, args.max_norm)
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        if step % args.log_every == 0:
            log.info("epoch %d step %d loss %.4f", epoch, step, loss.item())


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    hits, total = 0, 0
    for img, meta, ids, pad in loader:
        sim = model(img.cuda(), meta.cuda(), ids.cuda(), pad.cuda()).nan_to_num(nan=-1e4)
        hits += (sim.argmax(-1) == torch.arange(sim.shape[0], device=sim.device)).sum().item()
        total += sim.shape[0]
    return hits / max(total, 1)
