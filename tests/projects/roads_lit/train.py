from dataclasses import dataclass, field

import lightning as L
import torch
from deepglobe import DeepGlobeRoads
from net import RoadNet
from objectives import multi_task_loss, road_iou
from torch.utils.data import DataLoader


@dataclass
class ModelCfg:
    width: int = 64
    in_chans: int = 4


@dataclass
class Cfg:
    root: str = "data/deepglobe"
    lr: float = 2e-4
    clip: float = 1.0
    epochs: int = 60
    model: ModelCfg = field(default_factory=ModelCfg)


class RoadModule(L.LightningModule):
    def __init__(self, cfg: Cfg):
        super().__init__()
        self.automatic_optimization = False
        self.cfg = cfg
        self.net = RoadNet(cfg.model.width, cfg.model.in_chans)

    def forward(self, img):
        return self.net(img)

    def training_step(self, batch, batch_idx):
        img, road, orient = batch
        img = torch.nan_to_num(img)
        opt = self.optimizers()
        seg_logits, orient_logits = self(img)
        loss, parts = multi_task_loss(seg_logits, orient_logits, road, orient)
        opt.zero_grad()
        self.manual_backward(loss)
        self.clip_gradients(opt, gradient_clip_val=self.cfg.clip, gradient_clip_algorithm="norm")
        opt.step()
        self.log_dict({"train/loss": loss, **{f"train/{k}": v for k, v in parts.items()}})
        return loss

    def validation_step(self, batch, batch_idx):
        img, road, _ = batch
        seg_logits, _ = self(img)
        self.log("val/iou", road_iou(seg_logits, road), prog_bar=True)

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=self.cfg.lr)


if __name__ == "__main__":
    cfg = Cfg()
    train = DataLoader(DeepGlobeRoads(cfg.root, "train"), batch_size=8, shuffle=True, num_workers=8)
    val = DataLoader(DeepGlobeRoads(cfg.root, "valid"), batch_size=8, num_workers=8)
    L.Trainer(max_epochs=cfg.epochs, precision="bf16-mixed").fit(RoadModule(cfg), train, val)
