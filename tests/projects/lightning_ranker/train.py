import argparse

import lightning as L
import numpy as np
import yaml
from ranker.data import RankingDataModule
from ranker.module import Ranker


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="config.yaml")
    args = parser.parse_args()
    with open(args.config) as fh:
        cfg = yaml.safe_load(fh)
    frame = np.load(cfg["data"]["path"])
    dm = RankingDataModule(
        frame, n_items=cfg["data"]["n_items"], batch_size=cfg["data"]["batch_size"]
    )
    dm.setup()
    first = next(iter(dm.train_dataloader()))
    stat_dim = first["player_stats"].shape[-1]
    print(f"configured stat_dim={cfg['model']['stat_dim']}, data has {stat_dim}")
    model = Ranker(stat_dim, hidden=cfg["model"]["hidden"], lr=cfg["optim"]["lr"])
    trainer = L.Trainer(max_epochs=cfg["trainer"]["epochs"])
    trainer.fit(model, dm)


if __name__ == "__main__":
    main()
