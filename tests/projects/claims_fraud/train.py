import logging
from dataclasses import dataclass, field

import torch
import yaml
from model import ClaimsNet
from torch.utils.data import DataLoader

log = logging.getLogger("claims")


@dataclass
class ClaimsConfig:
    data_dir: str = "data/claims"
    n_num_features: int = 41
    item_dim: int = 12
    cat_cardinalities: list = field(default_factory=lambda: [54, 12, 300])
    vocab_size: int = 32000
    d: int = 128
    heads: int = 4
    lr: float = 3e-4
    max_norm: float = 1.0
    epochs: int = 10
    batch_size: int = 256
    gamma: float = 2.0

    @classmethod
    def from_yaml(cls, path):
        with open(path) as f:
            return cls(**yaml.safe_load(f))


def main(config_path):
    cfg = ClaimsConfig.from_yaml(config_path)
    train_set = torch.load(f"{cfg.data_dir}/train.pt")
    val_set = torch.load(f"{cfg.data_dir}/val.pt")
    loader = DataLoader(train_set, batch_size=cfg.batch_size, shuffle=True)
    first = next(iter(loader))
    if first["items"].shape[-1] != cfg.item_dim:
        raise ValueError(
            f"line items carry {first['items'].shape[-1]} fields, config says {cfg.item_dim}"
        )
    model = ClaimsNet(cfg).cuda()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)

    def prepare(batch):
        batch = {k: v.cuda() for k, v in batch.items()}
        amounts = torch.nan_to_num(batch["num"], nan=0.0)
        batch["num"] = torch.log1p(amounts.clamp(min=0.0))
        return batch

    def focal_loss(logits, y):
        p = torch.sigmoid(logits).clamp(1e-6, 1 - 1e-6)
        pt = torch.where(y > 0.5, p, 1 - p)
        return (-((1 - pt) ** cfg.gamma) * pt.log()).mean()

    def clip():
        return torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_norm)

    def train_step(batch):
        batch = prepare(batch)
        logits = model(
            batch["num"],
            batch["cat"],
            batch["tokens"],
            batch["tok_mask"],
            batch["items"],
            batch["item_mask"],
        )
        loss = focal_loss(logits, batch["label"].float())
        opt.zero_grad()
        loss.backward()
        clip()
        opt.step()
        return loss.item()

    @torch.no_grad()
    def evaluate():
        model.eval()
        hits = total = 0
        for batch in DataLoader(val_set, batch_size=1024):
            batch = prepare(batch)
            p = torch.sigmoid(
                model(
                    batch["num"],
                    batch["cat"],
                    batch["tokens"],
                    batch["tok_mask"],
                    batch["items"],
                    batch["item_mask"],
                )
            )
            hits += ((p > 0.5) == batch["label"].bool()).sum().item()
            total += p.numel()
        model.train()
        return hits / total

    for epoch in range(cfg.epochs):
        losses = [train_step(b) for b in loader]
        log.info("epoch %d loss %.4f val_acc %.4f", epoch, sum(losses) / len(losses), evaluate())


if __name__ == "__main__":
    import sys

    logging.basicConfig(level=logging.INFO)
    main(sys.argv[1])
