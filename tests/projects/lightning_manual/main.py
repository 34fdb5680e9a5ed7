import lightning.pytorch as pl
from lit.system import Ranker, RankSystem
from omegaconf import OmegaConf
from torch.utils.data import DataLoader


def main():
    cfg = OmegaConf.load("conf.yaml")
    train = DataLoader(cfg.data.path, batch_size=cfg.data.batch_size)
    probe = Ranker(**cfg.model)
    print(sum(p.numel() for p in probe.parameters()))
    system = RankSystem(cfg.model, lr=cfg.optim.lr)
    pl.Trainer(max_epochs=cfg.trainer.epochs).fit(system, train)


if __name__ == "__main__":
    main()
