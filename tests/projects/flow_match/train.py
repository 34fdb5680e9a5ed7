import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
from datasets_flow import FlyingChairs
from torch.utils.data import DataLoader
from utils import *


class Encoder(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 64, 7, 2, 3),
            nn.ReLU(),
            nn.Conv2d(64, 128, 3, 2, 1),
            nn.ReLU(),
            nn.Conv2d(128, dim, 3, 2, 1),
        )

    def forward(self, x):
        return self.net(x)


class SelfRefine(nn.Module):
    def __init__(self, dim, heads=4):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, valid):
        b, n, c = x.shape
        qkv = self.qkv(x).view(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = attn.masked_fill(~valid[:, None, None, :], float("-inf"))
        attn = torch.nan_to_num(attn.softmax(dim=-1), nan=0.0)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class GlobalFlow(nn.Module):
    def __init__(self, dim=128, iters=3):
        super().__init__()
        self.enc = Encoder(dim)
        self.refine = SelfRefine(dim)
        self.iters = iters

    def forward(self, img1, img2):
        f1, f2 = self.enc(img1), self.enc(img2)
        b, c, h, w = f1.shape
        f1 = f1.flatten(2).transpose(1, 2)
        f2 = f2.flatten(2).transpose(1, 2)
        grid = coords_grid(b, h, w, img1.device)
        prob = corr_volume(f1, f2).softmax(dim=-1)
        flow = prob @ grid - grid
        preds = [flow]
        valid = torch.ones(b, h * w, dtype=torch.bool, device=img1.device)
        for _ in range(self.iters - 1):
            f1 = f1 + self.refine(f1, valid)
            prob = scaled_corr(f1, f2).softmax(dim=-1)
            flow = prob @ grid - grid
            preds.append(flow)
        up = lambda f: (
            8
            * F.interpolate(f.transpose(1, 2).reshape(b, 2, h, w), scale_factor=8, mode="bilinear")
        )
        return [up(f) for f in preds]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--root", default="data/FlyingChairs_release")
    p.add_argument("--lr", type=float, default=4e-4)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--steps", type=int, default=100_000)
    args = p.parse_args()
    device = "cuda"
    model = GlobalFlow().to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    loader = DataLoader(FlyingChairs(args.root), batch_size=8, shuffle=True, num_workers=8)
    step = 0
    while step < args.steps:
        for img1, img2, flow_gt, valid in loader:
            img1, img2 = img1.to(device).nan_to_num(), img2.to(device).nan_to_num()
            flow_gt, valid = flow_gt.to(device), valid.to(device)
            preds = model(img1, img2)
            loss = sequence_loss(preds, flow_gt, valid)
            loss.backward()
            clip_and_step(model, optimizer, args.clip)
            if step % 100 == 0:
                print(
                    f"step {step} loss {loss.item():.4f} epe {epe(preds[-1], flow_gt, valid):.3f}"
                )
            step += 1


if __name__ == "__main__":
    main()
