import argparse
import logging

import torch
from dataset import WaveformDataset
from model import make_picker
from torch.utils.data import DataLoader
from utils import optimizer_step, phase_loss, pick_error

log = logging.getLogger("picker")


def get_args():
    ap = argparse.ArgumentParser(description="P/S phase picker")
    ap.add_argument("--hdf5", required=True)
    ap.add_argument("--in-channels", type=int, default=3)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--clip", type=float, default=5.0)
    ap.add_argument("--epochs", type=int, default=50)
    return ap.parse_args()


def train_epoch(model, loader, opt, args):
    model.train()
    for wave, target, valid in loader:
        logits = model(wave, valid)
        loss = phase_loss(logits, target, valid.float())
        loss.backward()
        optimizer_step(model, opt, args.clip)


def evaluate(model, loader):
    model.eval()
    errs = [pick_error(model(w, v), t, v) for w, t, v in loader]
    return torch.stack(errs).mean().item()


def main():
    args = get_args()
    logging.basicConfig(level=logging.INFO)
    train_ds = WaveformDataset(args.hdf5, split="train")
    val_ds = WaveformDataset(args.hdf5, split="val")
    train_dl = DataLoader(train_ds, batch_size=64, shuffle=True, num_workers=4)
    val_dl = DataLoader(val_ds, batch_size=64)
    wave0, _, _ = next(iter(train_dl))
    model = make_picker(args, n_channels=wave0.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    for epoch in range(args.epochs):
        train_epoch(model, train_dl, opt, args)
        log.info("epoch %d pick error %.3fs", epoch, evaluate(model, val_dl))


if __name__ == "__main__":
    main()
