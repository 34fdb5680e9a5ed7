import argparse
import math

import torch
import torch.nn.functional as F
from models import SwinIRLite
from torch.utils.data import DataLoader, Dataset
from torch.utils.tensorboard import SummaryWriter


class PatchPairs(Dataset):
    def __init__(self, root, patch):
        self.items = torch.load(f"{root}/pairs.pt")
        self.patch = patch

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        lr, hr = self.items[i]
        return lr[:, : self.patch, : self.patch], hr[:, : 2 * self.patch, : 2 * self.patch]


def clip_and_step(model, opt, max_norm):
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    opt.step()
    opt.zero_grad(set_to_none=True)
    return norm.item()


@torch.no_grad()
def validate(model, loader, device):
    model.eval()
    psnr = []
    for lr, hr in loader:
        sr = model(lr.to(device)).clamp(0, 1)
        mse = F.mse_loss(sr, hr.to(device))
        psnr.append(10 * math.log10(1.0 / mse.item()))
    model.train()
    return sum(psnr) / len(psnr)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="data/div2k")
    p.add_argument("--in_channels", type=int, default=3)
    p.add_argument("--patch", type=int, default=48)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--clip", type=float, default=0.5)
    p.add_argument("--epochs", type=int, default=100)
    args = p.parse_args()
    device = "cuda"
    train_dl = DataLoader(PatchPairs(args.data + "/train", args.patch), batch_size=16, shuffle=True)
    val_dl = DataLoader(PatchPairs(args.data + "/val", args.patch), batch_size=1)
    model = SwinIRLite(args.in_channels).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    writer = SummaryWriter("runs/swinir")
    step = 0
    for epoch in range(args.epochs):
        for lr_img, hr_img in train_dl:
            sr = model(lr_img.to(device))
            loss = F.l1_loss(sr, hr_img.to(device))
            loss.backward()
            if step < 1000:
                gnorm = clip_and_step(model, opt, args.clip)
                writer.add_scalar("warmup/grad_norm", gnorm, step)
            else:
                clip_and_step(model, opt, args.clip)
            writer.add_scalar("train/l1", loss.item(), step)
            step += 1
        writer.add_scalar("val/psnr", validate(model, val_dl, device), epoch)


if __name__ == "__main__":
    main()
