import argparse

import timm
import torch
from accelerate import Accelerator
from data import PKSampler, WildlifeCrops
from losses import arcface_logits, batch_hard_triplet, bounded_ce
from model import ReIDNet
from torch.utils.data import DataLoader


def get_args():
    p = argparse.ArgumentParser()
    p.add_argument("--root", default="data/wildlife")
    p.add_argument("--species", default="zebra")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--lr", type=float, default=3.5e-4)
    p.add_argument("--max-norm", type=float, default=5.0)
    p.add_argument("--arcface", action="store_true")
    return p.parse_args()


def main():
    args = get_args()
    accelerator = Accelerator(log_with="wandb", mixed_precision="bf16")
    accelerator.init_trackers("wildlife-reid", config=vars(args))
    ds = WildlifeCrops(args.root, args.species, split="train")
    loader = DataLoader(ds, batch_sampler=PKSampler(ds.labels, p=16, k=4), num_workers=8)
    backbone = timm.create_model(
        "vit_small_patch16_224", pretrained=True, num_classes=0, global_pool=""
    )
    model = ReIDNet(backbone, 384, ds.num_ids)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    step = 0
    for epoch in range(args.epochs):
        model.train()
        for img, keep, ids in loader:
            emb, logits = model(img, keep)
            if args.arcface:
                weight = accelerator.unwrap_model(model).classifier.weight
                id_loss = bounded_ce(arcface_logits(emb, weight, ids), ids, bound=64.0)
            else:
                id_loss = bounded_ce(logits, ids)
            loss = id_loss + batch_hard_triplet(emb, ids)
            accelerator.backward(loss)
            grad_norm = accelerator.clip_grad_norm_(model.parameters(), args.max_norm)  # noqa: F841
            optimizer.step()
            optimizer.zero_grad()
            if step % 50 == 0:
                accelerator.log({"loss": loss.item(), "id_loss": id_loss.item()}, step=step)
            step += 1
    accelerator.end_training()


if __name__ == "__main__":
    main()
