import argparse

import torch
import torch.nn.functional as F
from models import create_model
from utils.clip import dispatch_clip_grad


def get_args():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="tab_vit_tiny")
    p.add_argument("--num-features", type=int, default=32)
    p.add_argument("--clip-grad", type=float, default=1.0)
    p.add_argument("--clip-mode", default="norm")
    p.add_argument("--epochs", type=int, default=10)
    return p.parse_args()


def train_one_epoch(model, loader, optimizer, args):
    model.train()
    for x, y in loader:
        out = model(x)
        loss = F.cross_entropy(out, y)
        optimizer.zero_grad()
        loss.backward()
        if args.clip_grad is not None:
            dispatch_clip_grad(model.parameters(), args.clip_grad, mode=args.clip_mode)
        optimizer.step()


def main():
    args = get_args()
    model = create_model(args.model, in_features=args.num_features)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-4)
    loader = torch.utils.data.DataLoader(torch.load("train.pt"), batch_size=64)
    for _ in range(args.epochs):
        train_one_epoch(model, loader, optimizer, args)


if __name__ == "__main__":
    main()
