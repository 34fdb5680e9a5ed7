import logging
from dataclasses import dataclass

import click
import torch
from data import TransactionWindows, collate
from fraudnet import build, focal_loss
from sklearn.metrics import average_precision_score

logger = logging.getLogger("fraud")


@dataclass
class TrainConfig:
    n_event_features: int = 17
    n_merchants: int = 5000
    d_model: int = 128
    n_heads: int = 4
    lr: float = 3e-4
    max_norm: float = 1.0
    epochs: int = 10


@click.command()
@click.option("--data", type=click.Path(exists=True), required=True)
@click.option("--n-event-features", default=17)
@click.option("--d-model", default=128)
@click.option("--lr", default=3e-4)
@click.option("--epochs", default=10)
def main(data, n_event_features, d_model, lr, epochs):
    cfg = TrainConfig(n_event_features=n_event_features, d_model=d_model, lr=lr, epochs=epochs)
    train_ds = TransactionWindows(data, split="train")
    val_ds = TransactionWindows(data, split="val")
    loader = torch.utils.data.DataLoader(train_ds, batch_size=256, shuffle=True, collate_fn=collate)
    model = build(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    for epoch in range(cfg.epochs):
        model.train()
        for step, batch in enumerate(loader):
            amounts = torch.nan_to_num(batch["feats"], nan=0.0)
            logits = model(amounts, batch["merchant"], batch["dt"], batch["keep"])
            loss = focal_loss(logits, batch["label"].float())
            opt.zero_grad()
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_norm)
            if step % 100 == 0:
                logger.info(
                    "epoch=%d step=%d loss=%.4f grad_norm=%.3f", epoch, step, loss.item(), norm
                )
            opt.step()
        logger.info("val AP %.4f", evaluate(model, val_ds))


@torch.no_grad()
def evaluate(model, ds):
    model.eval()
    probs, labels = [], []
    for batch in torch.utils.data.DataLoader(ds, batch_size=1024, collate_fn=collate):
        logits = model(
            batch["feats"].nan_to_num(0.0), batch["merchant"], batch["dt"], batch["keep"]
        )
        probs.append(torch.sigmoid(logits).nan_to_num(0.5))
        labels.append(batch["label"])
    return average_precision_score(torch.cat(labels).numpy(), torch.cat(probs).numpy())


if __name__ == "__main__":
    main()
