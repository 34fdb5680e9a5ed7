import argparse
import logging

import torch
import torch.nn.functional as F
from data import ClickLogDataset
from model import BST
from torch.utils.data import DataLoader
from utils import auc_proxy, save_args, step_optimizer

log = logging.getLogger("bst")


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="data/clicks.parquet")
    p.add_argument("--n_user_features", type=int, default=12)
    p.add_argument("--n_context_features", type=int, default=6)
    p.add_argument("--n_items", type=int, default=50000)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--max_norm", type=float, default=5.0)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch_size", type=int, default=512)
    p.add_argument("--out", default="runs/bst")
    return p.parse_args()


def main():
    args = parse()
    save_args(args, args.out)
    device = "cuda"
    ds = ClickLogDataset(args.data, max_len=20)
    loader = DataLoader(ds, batch_size=args.batch_size, shuffle=True, num_workers=4)
    first = next(iter(loader))
    if first["ctx"].shape[-1] != args.n_context_features:
        raise ValueError(
            f"context has {first['ctx'].shape[-1]} columns, args say {args.n_context_features}"
        )
    model = BST(args.n_user_features, args.n_context_features, args.n_items).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    scaler = torch.cuda.amp.GradScaler()
    step = 0
    for epoch in range(args.epochs):
        model.train()
        for batch in loader:
            batch = {k: v.to(device) for k, v in batch.items()}
            user_x = batch["user"].nan_to_num(0.0)
            with torch.cuda.amp.autocast():
                logits = model(batch["hist"], batch["target"], user_x, batch["ctx"])
                loss = F.binary_cross_entropy_with_logits(logits.float(), batch["label"])
            scaler.scale(loss).backward()
            step_optimizer(model, opt, scaler, args.max_norm)
            if step % 200 == 0:
                log.info(
                    "epoch=%d step=%d loss=%.4f auc~%.3f",
                    epoch,
                    step,
                    loss.item(),
                    auc_proxy(logits, batch["label"]),
                )
            step += 1
    torch.save(model.state_dict(), f"{args.out}/bst.pt")


if __name__ == "__main__":
    main()
