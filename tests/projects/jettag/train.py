import argparse
import logging

import torch
import torch.nn.functional as F
from jetclass import JetClassDataset
from model import ParticleTransformer
from torch.utils.data import DataLoader

logger = logging.getLogger(__name__)


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--data-dir", required=True)
    p.add_argument("--num-features", type=int, default=17)
    p.add_argument("--features", type=int, default=128)
    p.add_argument("--num-heads", type=int, default=8)
    p.add_argument("--depth", type=int, default=6)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--max-grad-norm", type=float, default=1.0)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--epochs", type=int, default=20)
    return p.parse_args()


def softmax_cross_entropy(logits, labels, smoothing):
    n = logits.shape[-1]
    onehot = F.one_hot(labels, n).float() * (1 - smoothing) + smoothing / n
    return -(onehot * F.log_softmax(logits, dim=-1)).sum(-1).mean()


def train_epoch(model, loader, opt, args, epoch):
    model.train()
    for i, batch in enumerate(loader):
        pf = torch.nan_to_num(batch["pf_features"].cuda(), nan=0.0)
        pair = batch["pair_features"].cuda()
        particle_mask = batch["mask"].cuda().bool()
        logits = model(pf, pair, particle_mask)
        loss = softmax_cross_entropy(logits, batch["label"].cuda(), args.label_smoothing)
        opt.zero_grad()
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
        opt.step()
        if i % 200 == 0:
            logger.info("epoch=%d it=%d loss=%.4f grad_norm=%.3f", epoch, i, loss.item(), grad_norm)


def main():
    args = parse_args()
    train_ds = JetClassDataset(args.data_dir, split="train")
    loader = DataLoader(train_ds, batch_size=512, shuffle=True, num_workers=8)
    model = ParticleTransformer(
        num_features=args.num_features,
        features=args.features,
        num_heads=args.num_heads,
        depth=args.depth,
    ).cuda()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    for epoch in range(args.epochs):
        train_epoch(model, loader, opt, args, epoch)
        torch.save(model.state_dict(), f"part_{epoch}.pt")


if __name__ == "__main__":
    main()
