import argparse
import logging

import torch
from data import SceneCaptionDataset, collate
from engine import evaluate, train_one_epoch
from model import GeoCLIP
from torch.utils.data import DataLoader

log = logging.getLogger("geoclip")


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--data-root", required=True)
    p.add_argument("--in-channels", type=int, default=4)
    p.add_argument("--meta-dim", type=int, default=6)
    p.add_argument("--vocab", type=int, default=30522)
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--embed-dim", type=int, default=256)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--max-norm", type=float, default=1.0)
    p.add_argument("--log-every", type=int, default=50)
    return p.parse_args()


def main():
    args = parse_args()
    logging.basicConfig(level=logging.INFO)
    train_ds = SceneCaptionDataset(args.data_root, "train")
    val_ds = SceneCaptionDataset(args.data_root, "val")
    train_loader = DataLoader(
        train_ds, args.batch_size, shuffle=True, collate_fn=collate, num_workers=8
    )
    val_loader = DataLoader(val_ds, args.batch_size, collate_fn=collate)

    img, meta, ids, pad = next(iter(train_loader))
    if img.shape[1] != args.in_channels:
        raise ValueError(f"{img.shape[1]} bands in the tiles, --in-channels={args.in_channels}")

    model = GeoCLIP(
        args.in_channels,
        args.vocab,
        args.dim,
        args.embed_dim,
        meta_dim=args.meta_dim,
    ).cuda()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.2)
    scaler = torch.cuda.amp.GradScaler()
    for epoch in range(args.epochs):
        train_one_epoch(model, train_loader, optimizer, scaler, args, epoch)
        log.info("epoch %d recall@1 %.3f", epoch, evaluate(model, val_loader))


if __name__ == "__main__":
    main()
