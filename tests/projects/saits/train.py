import argparse
import json

import numpy as np
import torch
from layers import masked_mae
from model import SAITS


def backward_step(loss, scaler, opt, model, max_norm):
    scaler.scale(loss).backward()
    scaler.unscale_(opt)
    total = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    scaler.step(opt)
    scaler.update()
    opt.zero_grad(set_to_none=True)
    return total.item()


def artificially_mask(observed, rate, rng):
    hold = (torch.from_numpy(rng.random(observed.shape)) < rate) & observed.bool()
    return observed.float() * (~hold).float(), hold.float()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="data/physionet.npz")
    p.add_argument("--n_steps", type=int, default=48)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--mit_rate", type=float, default=0.2)
    p.add_argument("--epochs", type=int, default=100)
    args = p.parse_args()
    with open("run_args.json", "w") as f:
        json.dump(vars(args), f)
    arr = np.load(args.data)["X"].astype("float32")
    X = torch.from_numpy(arr)
    observed = (~torch.isnan(X)).float()
    X = torch.where(torch.isnan(X), torch.zeros_like(X), X)
    if X.shape[1] != args.n_steps:
        raise ValueError(f"series length {X.shape[1]} != --n_steps {args.n_steps}")
    model = SAITS(args.n_steps, X.shape[-1]).cuda()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    scaler = torch.cuda.amp.GradScaler()
    rng = np.random.default_rng(0)
    batches = torch.split(torch.randperm(len(X)), 128)
    for epoch in range(args.epochs):
        for idx in batches:
            x, obs = X[idx].cuda(), observed[idx].cuda()
            obs_in, hold = artificially_mask(obs.cpu(), args.mit_rate, rng)
            obs_in, hold = obs_in.cuda(), hold.cuda()
            with torch.cuda.amp.autocast():
                preds, _ = model(x * obs_in, obs_in)
                loss = masked_mae(preds, x, obs_in) + masked_mae(preds, x, hold)
            gn = backward_step(loss, scaler, opt, model, args.clip)  # noqa: F841
        print(f"epoch {epoch} loss {loss.item():.4f}")


if __name__ == "__main__":
    main()
