import argparse
import logging

import torch
from engine import evaluate, train_one_epoch
from models import MAEViT
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

log = logging.getLogger("mae")


def get_args():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="/data/imagenet")
    p.add_argument("--in_chans", type=int, default=3)
    p.add_argument("--patch", type=int, default=16)
    p.add_argument("--img_size", type=int, default=224)
    p.add_argument("--epochs", type=int, default=400)
    p.add_argument("--blr", type=float, default=1.5e-4)
    p.add_argument("--clip_grad", type=float, default=3.0)
    p.add_argument("--norm_pix_loss", action="store_true")
    p.add_argument("--log_every", type=int, default=50)
    p.add_argument("--batch_size", type=int, default=256)
    return p.parse_args()


def main():
    args = get_args()
    tf = transforms.Compose([transforms.RandomResizedCrop(args.img_size), transforms.ToTensor()])
    train = datasets.ImageFolder(f"{args.data}/train", tf)
    val = datasets.ImageFolder(f"{args.data}/val", tf)
    loader = DataLoader(train, batch_size=args.batch_size, shuffle=True, num_workers=8)
    val_loader = DataLoader(val, batch_size=args.batch_size)
    model = MAEViT(args.in_chans, patch=args.patch, img_size=args.img_size).cuda()
    lr = args.blr * args.batch_size / 256
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95))
    scaler = torch.cuda.amp.GradScaler()
    sched = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, lr, total_steps=args.epochs * len(loader)
    )
    for epoch in range(args.epochs):
        train_one_epoch(model, loader, optimizer, scaler, sched, epoch, args, log)
        log.info("epoch %d val %.4f", epoch, evaluate(model, val_loader, args))


if __name__ == "__main__":
    main()
