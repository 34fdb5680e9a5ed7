import logging

import torch
from graph import AirQualitySTGNN, radius_graph

logger = logging.getLogger("airq")


class Trainer:
    def __init__(self, model, stations, cfg, device="cuda"):
        self.model = model.to(device)
        self.device = device
        self.cfg = cfg
        self.neighbours = radius_graph(stations.coords_km, cfg["radius_km"]).to(device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg["lr"])
        self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.opt, cfg["epochs"])
        self.step_count = 0

    def _masked_mae(self, preds, target):
        observed = ~torch.isnan(target)
        preds = torch.where(torch.isnan(preds), torch.zeros_like(preds), preds)
        target = torch.nan_to_num(target)
        return ((preds - target).abs() * observed).sum() / observed.sum().clamp(min=1)

    def _update(self, loss):
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg["max_norm"])
        self.opt.step()
        return norm.item()

    def _step(self, batch):
        x, y = (t.to(self.device) for t in batch)
        preds = self.model(x, self.neighbours)
        loss = self._masked_mae(preds, y)
        self._update(loss)
        self.step_count += 1
        return loss.item()

    @torch.no_grad()
    def validate(self, loader):
        self.model.eval()
        total, n = 0.0, 0
        for x, y in loader:
            preds = self.model(x.to(self.device), self.neighbours)
            total += self._masked_mae(preds, y.to(self.device)).item()
            n += 1
        self.model.train()
        return total / max(n, 1)

    def fit(self, train_loader, val_loader):
        for epoch in range(self.cfg["epochs"]):
            losses = [self._step(batch) for batch in train_loader]
            val = self.validate(val_loader)
            self.sched.step()
            logger.info(
                "epoch %d train_mae %.3f val_mae %.3f", epoch, sum(losses) / len(losses), val
            )


if __name__ == "__main__":
    from data import StationSet, make_loaders

    cfg = {"lr": 1e-3, "epochs": 50, "max_norm": 3.0, "radius_km": 25.0}
    stations = StationSet("data/beijing_multisite")
    model = AirQualitySTGNN(n_pollutants=6, n_met=5)
    Trainer(model, stations, cfg).fit(*make_loaders(stations, window=24, horizon=6))
