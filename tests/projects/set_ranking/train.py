import logging

import torch
import yaml
from setrank import losses
from setrank.factory import make_checked_model, make_model
from setrank.models import DeepSetRanker
from setrank.train_utils import clip_and_measure
from torch.utils.data import DataLoader

logger = logging.getLogger("setrank")


def collate(items):
    stats = torch.nn.utils.rnn.pad_sequence(
        [losses.sanitize(i["player_stats"]) for i in items], batch_first=True
    )
    rel = torch.nn.utils.rnn.pad_sequence([i["relevance"] for i in items], batch_first=True)
    mask = torch.nn.utils.rnn.pad_sequence(
        [torch.ones(len(i["relevance"]), dtype=torch.bool) for i in items], batch_first=True
    )
    return {"player_stats": stats, "relevance": rel, "mask": mask}


def run(cfg, dataset, val_dataset):
    loader = DataLoader(
        dataset, batch_size=cfg["train"]["batch_size"], collate_fn=collate, shuffle=True
    )
    batch = next(iter(loader), None)
    stat_dim_override = batch["player_stats"].shape[-1] if batch is not None else None
    model = make_model(cfg, stat_dim_override=stat_dim_override)
    val_model = make_checked_model(cfg, stat_dim_override=stat_dim_override)
    params = {"hidden_dim": cfg["model_b"]["hidden_dim"], "n_heads": cfg["model_b"]["n_heads"]}
    params.update(stat_dim=cfg["model_b"]["stat_dim"])
    model_b = DeepSetRanker(**params)
    opt = torch.optim.AdamW(
        list(model.parameters()) + list(model_b.parameters()), lr=cfg["train"]["lr"]
    )
    for step, batch in enumerate(loader):
        scores = model(batch["player_stats"], batch["mask"])
        scores_b = model_b(batch["player_stats"], batch["mask"])
        ranks = losses.soft_rank(scores, tau=cfg["train"]["tau"])
        loss = ((ranks - batch["relevance"]) ** 2)[batch["mask"]].mean()
        loss = loss + losses.listmle(scores_b, batch["relevance"], batch["mask"])
        opt.zero_grad()
        loss.backward()
        gnorm = clip_and_measure(model, cfg["train"]["max_norm"])
        opt.step()
        if step % 50 == 0:
            logger.info("step %d loss %.4f grad-norm %.3f", step, loss.item(), gnorm)
    return model, val_model, model_b


if __name__ == "__main__":
    with open("config.yaml") as fh:
        cfg = yaml.safe_load(fh)
    run(cfg, torch.load(cfg["data"]["train"]), torch.load(cfg["data"]["val"]))
