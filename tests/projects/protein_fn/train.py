import argparse
from dataclasses import dataclass

import torch
from embeddings import ESMEmbeddingSet, collate
from torch.utils.data import DataLoader
from utils import *


@dataclass
class TrainConfig:
    emb_dir: str
    in_features: int = 1280
    hidden: int = 512
    n_terms: int = 1943
    dropout: float = 0.1
    lr: float = 1e-3
    epochs: int = 20
    plddt_min: float = 70.0
    max_norm: float = 1.0


def pool_residues(head, h, plddt, plddt_min):
    valid = plddt > plddt_min
    e = torch.einsum("bld,bmd->blm", head.q(h) * head.scale, head.k(h))
    ctx = e.softmax(-1) @ h
    logits = mask_residues(head.att(ctx).squeeze(-1), valid)
    w = torch.softmax(logits, dim=-1)
    return (w.unsqueeze(-1) * ctx).sum(1)


def forward(head, emb, plddt, plddt_min):
    h = head.proj(emb.nan_to_num(0.0))
    return head.out(pool_residues(head, h, plddt, plddt_min))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--emb-dir", dest="emb_dir", required=True)
    ap.add_argument("--in-features", dest="in_features", type=int, default=1280)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--epochs", type=int, default=20)
    cfg = TrainConfig(**vars(ap.parse_args()))
    head = build_head(cfg).cuda()
    opt = torch.optim.Adam(head.parameters(), lr=cfg.lr)
    loader = DataLoader(
        ESMEmbeddingSet(cfg.emb_dir, "train"), batch_size=16, shuffle=True, collate_fn=collate
    )
    pos_weight = loader.dataset.term_pos_weight().cuda()
    norms = []
    for epoch in range(cfg.epochs):
        for emb, plddt, go in loader:
            emb, plddt, go = emb.cuda(), plddt.cuda(), go.cuda()
            logits = forward(head, emb, plddt, cfg.plddt_min)
            loss = go_loss(logits, go.float(), pos_weight)
            opt.zero_grad()
            loss.backward()
            norms.append(torch.nn.utils.clip_grad_norm_(head.parameters(), cfg.max_norm).item())
            opt.step()
        print(
            f"epoch {epoch} loss {loss.item():.4f} max grad norm {max(norms[-len(loader) :]):.2f}"
        )
        with torch.no_grad():
            print("fmax(last batch)", fmax(torch.sigmoid(logits), go))


if __name__ == "__main__":
    main()
