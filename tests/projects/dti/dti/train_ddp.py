import argparse

import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler

from .model import DTIModel
from .utils import all_reduce_mean, clip_and_step, setup_ddp


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="data/davis.pt")
    p.add_argument("--atom_dim", type=int, default=78)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--max_norm", type=float, default=1.0)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--batch_size", type=int, default=64)
    return p.parse_args()


def main():
    args = parse()
    rank, world = setup_ddp()
    ds = torch.load(args.data)
    sampler = DistributedSampler(ds)
    loader = DataLoader(ds, batch_size=args.batch_size, sampler=sampler, collate_fn=ds.collate)
    model = DDP(DTIModel(args.atom_dim).cuda(rank), device_ids=[rank])
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    scaler = torch.cuda.amp.GradScaler()
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        model.train()
        for step, (atoms, atom_keep, residues, y) in enumerate(loader):
            atoms = torch.nan_to_num(atoms.cuda(rank))
            atom_keep, residues, y = atom_keep.cuda(rank), residues.cuda(rank), y.cuda(rank).float()
            with torch.autocast("cuda", dtype=torch.bfloat16):
                logits = model(atoms, atom_keep, residues)
                loss = F.binary_cross_entropy_with_logits(logits.clamp(-15.0, 15.0), y)
            scaler.scale(loss).backward()
            clip_and_step(model, opt, scaler, args.max_norm)
            step_loss = all_reduce_mean(loss.detach())
            if rank == 0 and step % 100 == 0:
                with torch.no_grad():
                    p = torch.sigmoid(logits).clamp(1e-6, 1 - 1e-6)
                    print(
                        f"epoch {epoch} step {step} loss {step_loss.item():.4f} p_mean {p.mean():.3f}"
                    )


if __name__ == "__main__":
    main()
