import json
import logging
import sys

import torch
from losses.ranking import bce_with_probs, lambda_surrogate, pairwise_hinge
from models import build_model
from torch.utils.data import DataLoader
from utils.clip import clip_gradients, count_params

log = logging.getLogger(__name__)


def load_config(path):
    with open(path) as f:
        return json.load(f)


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    total = 0.0
    for x, rel in loader:
        scores, _ = model(x)
        total += pairwise_hinge(scores, rel).item()
    model.train()
    return total / max(len(loader), 1)


def train(cfg, train_ds, val_ds):
    loader = DataLoader(train_ds, batch_size=cfg["batch_size"], shuffle=True)
    val_loader = DataLoader(val_ds, batch_size=cfg["batch_size"])
    sample, _ = train_ds[0]
    feat_dim = int(sample.shape[-1])
    model = build_model(cfg, in_dim_override=feat_dim)
    log.info("model has %d parameters", count_params(model))
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    for epoch in range(cfg["epochs"]):
        for x, rel in loader:
            scores, pooled = model(x)
            loss = lambda_surrogate(scores, rel)
            loss = loss + bce_with_probs(torch.sigmoid(pooled.mean(-1)), rel.max(-1).values)
            optimizer.zero_grad()
            loss.backward()
            clip_gradients(model, cfg["max_norm"])
            optimizer.step()
        log.info("epoch %d val %.4f", epoch, evaluate(model, val_loader))
    return model


if __name__ == "__main__":
    cfg = load_config(sys.argv[1])
    train_ds = torch.load(cfg["train_path"])
    val_ds = torch.load(cfg["val_path"])
    train(cfg, train_ds, val_ds)
