import lightning as L
import torch
import torch.nn as nn
import torch.nn.functional as F

from .losses import box_loss, focal_loss
from .model import LayoutDetector


class LitLayout(L.LightningModule):
    def __init__(self, input_dim=16, dim=256, heads=8, num_classes=11, lr=2e-4, clip=1.0):
        super().__init__()
        self.save_hyperparameters()
        self.region_in = nn.Linear(self.hparams.input_dim, self.hparams.dim)
        self.net = LayoutDetector(32, dim, heads, num_classes)

    def training_step(self, batch, batch_idx):
        regions = self.region_in(batch["region_feats"])
        logits, boxes = self.net(regions, batch["token_feats"], batch["token_keep"])
        onehot = F.one_hot(batch["labels"], self.hparams.num_classes).float()
        loss = focal_loss(logits, onehot) + box_loss(boxes, batch["boxes"], batch["region_keep"])
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        regions = self.region_in(batch["region_feats"])
        logits, _ = self.net(regions, batch["token_feats"], batch["token_keep"])
        acc = (logits.argmax(-1) == batch["labels"])[batch["region_keep"]].float().mean()
        self.log("val/acc", acc)

    def configure_gradient_clipping(
        self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None
    ):
        self.clip_gradients(
            optimizer, gradient_clip_val=self.hparams.clip, gradient_clip_algorithm="norm"
        )

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=0.05)
