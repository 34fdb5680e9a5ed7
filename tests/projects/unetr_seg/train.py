import argparse
import logging

import torch
import utils as U
import yaml
from dataset import BTCVDataset
from unetr import UNETR

_logger = logging.getLogger("train")

config_parser = parser = argparse.ArgumentParser(description="Training Config", add_help=False)
parser.add_argument("-c", "--config", default="", type=str, metavar="FILE")

parser = argparse.ArgumentParser(description="UNETR training")
parser.add_argument("--data-dir", default="./data/btcv")
parser.add_argument("--in-channels", type=int, default=1)
parser.add_argument("--num-classes", type=int, default=14)
parser.add_argument("--img-size", type=int, nargs=3, default=(96, 96, 96))
parser.add_argument("--lr", type=float, default=1e-4)
parser.add_argument("--epochs", type=int, default=300)
parser.add_argument("--warmup", type=int, default=500)
parser.add_argument("--batch-size", type=int, default=2)
parser.add_argument("--clip-grad", type=float, default=1.0)


def _parse_args():
    args_config, remaining = config_parser.parse_known_args()
    if args_config.config:
        with open(args_config.config) as f:
            cfg = yaml.safe_load(f)
            parser.set_defaults(**cfg)
    args = parser.parse_args(remaining)
    args_text = yaml.safe_dump(args.__dict__, default_flow_style=False)
    return args, args_text


def main():
    args, args_text = _parse_args()
    ds = BTCVDataset(args.data_dir, split="train", roi=args.img_size)
    loader = torch.utils.data.DataLoader(
        ds, batch_size=args.batch_size, shuffle=True, num_workers=4
    )
    first = next(iter(loader))
    if tuple(first["image"].shape[-3:]) != tuple(args.img_size):
        raise ValueError(f"crops are {tuple(first['image'].shape[-3:])}, expected {args.img_size}")
    model = UNETR(args.in_channels, args.num_classes, img_size=tuple(args.img_size)).cuda()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-5)
    scaler = torch.cuda.amp.GradScaler()
    total = args.epochs * len(loader)
    step = 0
    for epoch in range(args.epochs):
        model.train()
        for batch in loader:
            image, label = batch["image"].cuda(), batch["label"].cuda().long()
            lr = U.warmup_cosine(optimizer, step, args.warmup, total, args.lr)
            with torch.autocast("cuda", dtype=torch.float16):
                logits = model(image)
                loss = U.dice_ce_loss(logits, label)
            scaler.scale(loss).backward()
            U.clip_and_step(model, optimizer, scaler, args.clip_grad)
            if step % 50 == 0:
                _logger.info(
                    "epoch %d step %d loss %.4f lr %.2e dice %.3f",
                    epoch,
                    step,
                    loss.item(),
                    lr,
                    U.dice_score(logits, label),
                )
            step += 1


if __name__ == "__main__":
    main()
