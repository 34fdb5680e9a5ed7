import hydra
import lightning as L
import torch
import torch.nn.functional as F
from factory import build_counter, build_counter_checked
from losses import count_loss, density_loss
from omegaconf import DictConfig
from torch.utils.data import DataLoader


class CrowdCounter(L.LightningModule):
    def __init__(self, cfg, net):
        super().__init__()
        self.cfg = cfg
        self.net = net
        self.automatic_optimization = False

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        img, dmap = batch
        opt = self.optimizers()
        pred = self(img)
        gt = F.interpolate(dmap, size=pred.shape[-2:], mode="bilinear") * 64.0
        loss = density_loss(pred, gt) + self.cfg.train.count_weight * count_loss(pred, gt)
        opt.zero_grad()
        self.manual_backward(loss)
        torch.nn.utils.clip_grad_norm_(self.parameters(), self.cfg.train.max_norm)
        opt.step()
        self.log("train/loss", loss, prog_bar=True)

    def validation_step(self, batch, batch_idx):
        img, dmap = batch
        pred = self(img)
        mae = (pred.sum(dim=(1, 2, 3)) - dmap.sum(dim=(1, 2, 3))).abs().mean()
        self.log("val/mae", mae)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.cfg.train.lr)


class AuxCounter(CrowdCounter):
    def training_step(self, batch, batch_idx):
        img, dmap = batch
        opt = self.optimizers()
        pred = self(img)
        loss = count_loss(pred, dmap)
        opt.zero_grad()
        self.manual_backward(loss)
        gn = torch.nn.utils.clip_grad_norm_(self.parameters(), self.cfg.train.max_norm)
        self.log("train/grad_norm", gn)
        opt.step()


@hydra.main(config_path="configs", config_name="shanghaitech", version_base=None)
def main(cfg: DictConfig):
    from data import CrowdDataset

    train_ds = CrowdDataset(cfg.data.root, "train", cfg.data.crop)
    val_ds = CrowdDataset(cfg.data.root, "test", None)
    loader = DataLoader(train_ds, batch_size=cfg.train.batch_size, shuffle=True, num_workers=4)
    img0, _ = next(iter(loader))
    if cfg.aux:
        net = build_counter_checked(cfg, in_channels=img0.shape[1])
        module = AuxCounter(cfg, net)
    else:
        net = build_counter(cfg, in_channels=img0.shape[1])
        module = CrowdCounter(cfg, net)
    trainer = L.Trainer(max_epochs=cfg.train.epochs, precision="16-mixed", log_every_n_steps=20)
    trainer.fit(module, loader, DataLoader(val_ds, batch_size=1))


if __name__ == "__main__":
    main()
