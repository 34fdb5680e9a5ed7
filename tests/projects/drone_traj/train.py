import argparse
import logging

import torch
import torch.nn.functional as F
from model import TrajFormer
from omegaconf import OmegaConf
from torch.utils.data import DataLoader

log = logging.getLogger("traj")


def ade_fde(pred, fut):
    err = (pred - fut).norm(dim=-1)
    return err.mean().item(), err[..., -1].mean().item()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="configs/default.yaml")
    ap.add_argument("overrides", nargs="*")
    args = ap.parse_args()
    cfg = OmegaConf.merge(OmegaConf.load(args.config), OmegaConf.from_dotlist(args.overrides))
    from dataset import DroneTracks

    train_ds = DroneTracks(cfg.data.root, "train", cfg.data.obs_len, cfg.data.pred_len)
    val_ds = DroneTracks(cfg.data.root, "val", cfg.data.obs_len, cfg.data.pred_len)
    loader = DataLoader(train_ds, batch_size=cfg.train.batch_size, shuffle=True)
    val_loader = DataLoader(val_ds, batch_size=cfg.train.batch_size)
    model = TrajFormer(cfg.model, cfg.data.pred_len).cuda()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr, weight_decay=0.01)
    history = []
    for epoch in range(cfg.train.epochs):
        model.train()
        for obs, fut in loader:
            obs = torch.nan_to_num(obs.cuda(), nan=0.0)
            fut = fut.cuda()
            pred = model(obs)
            loss = F.smooth_l1_loss(pred, fut)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            history.append(
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.max_norm).item()
            )
            opt.step()
        model.eval()
        with torch.no_grad():
            scores = [ade_fde(model(o.cuda()), f.cuda()) for o, f in val_loader]
        ade = sum(s[0] for s in scores) / len(scores)
        log.info("epoch %d ade %.3f max grad %.3f", epoch, ade, max(history[-len(loader) :]))


if __name__ == "__main__":
    main()
