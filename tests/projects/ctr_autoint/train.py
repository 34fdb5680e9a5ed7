import argparse

import torch
import torch.nn.functional as F
from autoint import AutoInt
from criteo import CriteoParquet
from torch.utils.data import DataLoader
from torch.utils.tensorboard import SummaryWriter
from utils import auc_logloss, unscale_and_clip, warmup_cosine


def get_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", default="data/criteo_train.parquet")
    ap.add_argument("--valid", default="data/criteo_valid.parquet")
    ap.add_argument("--n-dense-features", type=int, default=13)
    ap.add_argument("--embed-dim", type=int, default=16)
    ap.add_argument("--batch-size", type=int, default=4096)
    ap.add_argument("--accum", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--clip", type=float, default=10.0)
    ap.add_argument("--epochs", type=int, default=3)
    return ap.parse_args()


def main():
    args = get_args()
    train_ds, valid_ds = CriteoParquet(args.train), CriteoParquet(args.valid)
    train_dl = DataLoader(train_ds, batch_size=args.batch_size, shuffle=True, num_workers=8)
    valid_dl = DataLoader(valid_ds, batch_size=args.batch_size * 4)
    model = AutoInt(
        args.n_dense_features, field_dims=train_ds.field_dims, embed_dim=args.embed_dim
    ).cuda()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    total = args.epochs * len(train_dl) // args.accum
    sched = warmup_cosine(opt, warmup=500, total=total)
    scaler = torch.cuda.amp.GradScaler()
    writer = SummaryWriter("runs/autoint")
    step = 0
    for epoch in range(args.epochs):
        model.train()
        for i, (sparse, dense, y) in enumerate(train_dl):
            sparse, y = sparse.cuda(), y.cuda().float()
            dense = torch.log1p(torch.nan_to_num(dense.cuda(), nan=0.0).clamp(min=0))
            with torch.autocast("cuda", dtype=torch.float16):
                logits = model(sparse, dense)
                loss = F.binary_cross_entropy_with_logits(logits.float().clamp(-12, 12), y)
            scaler.scale(loss / args.accum).backward()
            if (i + 1) % args.accum == 0:
                unscale_and_clip(scaler, opt, model.parameters(), args.clip)
                scaler.step(opt)
                scaler.update()
                opt.zero_grad(set_to_none=True)
                sched.step()
                step += 1
                writer.add_scalar("train/loss", loss.item(), step)
        model.eval()
        with torch.no_grad():
            outs, ys = [], []
            for sparse, dense, y in valid_dl:
                dense = torch.log1p(torch.nan_to_num(dense.cuda(), nan=0.0).clamp(min=0))
                outs.append(model(sparse.cuda(), dense).float())
                ys.append(y.cuda())
            auc, ll = auc_logloss(torch.cat(outs), torch.cat(ys))
        writer.add_scalar("valid/auc", auc, epoch)
        writer.add_scalar("valid/logloss", ll, epoch)


if __name__ == "__main__":
    main()
