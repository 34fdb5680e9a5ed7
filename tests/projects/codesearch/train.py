import argparse

import torch
from data import CodeSearchNet, collate
from encoder import BiEncoder
from losses import in_batch_contrastive, mrr
from optim_utils import clip_and_step
from torch.utils.tensorboard import SummaryWriter


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("--lang", default="python")
    p.add_argument("--lr", type=float, default=2e-5)
    p.add_argument("--max-norm", type=float, default=1.0)
    p.add_argument("--epochs", type=int, default=3)
    return p.parse_args()


def train_epoch(model, loader, opt, sched, args, writer, epoch):
    model.train()
    for i, (query_ids, code_ids) in enumerate(loader):
        scores = model.score(query_ids, code_ids)
        loss = in_batch_contrastive(scores)
        loss.backward()
        clip_and_step(model, opt, sched, args.max_norm)
        writer.add_scalar("train/loss", loss.item(), epoch * len(loader) + i)


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    vals = [mrr(model.score(q, c)).item() for q, c in loader]
    return sum(vals) / len(vals)


def warmup_epoch(model, loader, opt, sched, writer):
    for i, (query_ids, code_ids) in enumerate(loader):
        loss = in_batch_contrastive(model.score(query_ids, code_ids))
        loss.backward()
        gn = clip_and_step(model, opt, sched, 0.5)
        writer.add_scalar("warmup/grad_norm", gn, i)


def main():
    args = parse()
    train_dl = torch.utils.data.DataLoader(
        CodeSearchNet(args.lang, "train"), 64, collate_fn=collate
    )
    valid_dl = torch.utils.data.DataLoader(
        CodeSearchNet(args.lang, "valid"), 256, collate_fn=collate
    )
    model = BiEncoder(vocab_size=50_000)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.LinearLR(opt, 0.1, 1.0, 1000)
    writer = SummaryWriter()
    warmup_epoch(model, train_dl, opt, sched, writer)
    for epoch in range(args.epochs):
        train_epoch(model, train_dl, opt, sched, args, writer, epoch)
        writer.add_scalar("valid/mrr", evaluate(model, valid_dl), epoch)


if __name__ == "__main__":
    main()
