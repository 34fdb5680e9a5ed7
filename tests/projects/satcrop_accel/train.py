import argparse
import math

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from helpers import build_model, class_weights, clip_and_step
from torch.utils.data import DataLoader, TensorDataset


def parse_args():
    p = argparse.ArgumentParser(description="Sentinel-2 parcel crop-type classification")
    p.add_argument("--data", default="data/s2_parcels.pt")
    p.add_argument("--in_channels", type=int, default=10)
    p.add_argument("--d_model", type=int, default=128)
    p.add_argument("--n_head", type=int, default=4)
    p.add_argument("--n_layers", type=int, default=3)
    p.add_argument("--n_classes", type=int, default=18)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--batch_size", type=int, default=256)
    p.add_argument("--grad_accum", type=int, default=2)
    p.add_argument("--max_grad_norm", type=float, default=1.0)
    return p.parse_args()


def main():
    args = parse_args()
    accelerator = Accelerator(
        gradient_accumulation_steps=args.grad_accum, log_with="tensorboard", project_dir="runs"
    )
    accelerator.init_trackers("satcrop", config=vars(args))
    blob = torch.load(args.data)
    x = torch.nan_to_num(blob["reflectance"].float(), nan=0.0) / 10000.0
    train_ds = TensorDataset(x, blob["doy"], blob["clear"], blob["label"])
    loader = DataLoader(train_ds, batch_size=args.batch_size, shuffle=True, drop_last=True)

    model = build_model(**vars(args))
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.05)
    total = args.epochs * math.ceil(len(loader) / args.grad_accum)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=total)
    weights = class_weights(blob["label"], args.n_classes).to(accelerator.device)
    model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)

    step = 0
    for epoch in range(args.epochs):
        model.train()
        for xb, doy, clear, yb in loader:
            with accelerator.accumulate(model):
                logits = model(xb, doy, clear)
                loss = F.cross_entropy(logits, yb, weight=weights, label_smoothing=0.05)
                loss = torch.nan_to_num(loss, nan=0.0)
                accelerator.backward(loss)
                clip_and_step(accelerator, model, optimizer, scheduler, args.max_grad_norm)
            if accelerator.sync_gradients:
                step += 1
                if step % 50 == 0:
                    acc = (logits.argmax(-1) == yb).float().mean()
                    accelerator.log({"train/loss": loss.item(), "train/acc": acc.item()}, step=step)
    accelerator.end_training()


if __name__ == "__main__":
    main()
