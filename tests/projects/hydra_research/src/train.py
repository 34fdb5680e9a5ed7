import hydra
import torch
from omegaconf import DictConfig
from torch.utils.data import DataLoader

from . import losses as L
from .model import build_model
from .utils import clip_grads, seed_everything


def step(model, batch, criterion, optimizer, cfg):
    x, rel, mask = batch
    scores = model(x, mask)
    perm = L.neural_sort(scores, tau=cfg.train.tau)
    loss = criterion(scores, rel) + ((perm.sum(-2) - 1.0) ** 2).mean()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    _ = clip_grads(model.parameters(), cfg.train.max_norm)
    optimizer.step()
    return loss.detach()


@hydra.main(config_path="../conf", config_name="config", version_base=None)
def main(cfg: DictConfig):
    seed_everything(cfg.seed)
    dataset = torch.load(cfg.data.path)
    loader = DataLoader(dataset, batch_size=cfg.train.batch_size, shuffle=True)
    model = build_model(cfg.model)
    criterion = L.RankNetLoss(sigma=cfg.train.sigma)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr)
    for epoch in range(cfg.train.epochs):
        for batch in loader:
            loss = step(model, batch, criterion, optimizer, cfg)
        print(f"epoch {epoch} loss {loss:.4f}")


if __name__ == "__main__":
    main()
