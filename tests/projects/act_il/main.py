import argparse

import torch
from engine import evaluate, train_one_epoch
from models import build_ACT_model
from torch.utils.data import DataLoader


class EpisodeChunks(torch.utils.data.Dataset):
    def __init__(self, path, chunk):
        self.eps = torch.load(path)
        self.chunk = chunk

    def __len__(self):
        return len(self.eps)

    def __getitem__(self, i):
        ep = self.eps[i]
        t = torch.randint(0, ep["actions"].shape[0], ()).item()
        act = ep["actions"][t + 1 : t + 1 + self.chunk]
        is_pad = torch.zeros(self.chunk, dtype=torch.bool)
        is_pad[act.shape[0] :] = True
        act = torch.cat([act, act.new_zeros(self.chunk - act.shape[0], act.shape[1])])
        return ep["img_feat"][t], ep["qpos"][t], act, is_pad


def main():
    p = argparse.ArgumentParser("ACT")
    p.add_argument("--state_dim", type=int, default=14)
    p.add_argument("--action_dim", type=int, default=14)
    p.add_argument("--hidden_dim", type=int, default=512)
    p.add_argument("--nheads", type=int, default=8)
    p.add_argument("--chunk_size", type=int, default=100)
    p.add_argument("--lr", type=float, default=1e-5)
    p.add_argument("--clip_max_norm", type=float, default=0.1)
    p.add_argument("--kl_weight", type=float, default=10.0)
    p.add_argument("--epochs", type=int, default=2000)
    args = p.parse_args()
    device = torch.device("cuda")
    train_dl = DataLoader(
        EpisodeChunks("data/train.pt", args.chunk_size), batch_size=8, shuffle=True
    )
    val_dl = DataLoader(EpisodeChunks("data/val.pt", args.chunk_size), batch_size=8)
    model = build_ACT_model(args).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    best = float("inf")
    for epoch in range(args.epochs):
        train_one_epoch(
            model, train_dl, optimizer, device, epoch, args.clip_max_norm, args.kl_weight
        )
        val = evaluate(model, val_dl, device)
        if val < best:
            best = val
            torch.save(model.state_dict(), "policy_best.ckpt")


if __name__ == "__main__":
    main()
