import lightning as L
import torch
import torch.nn.functional as F
from ops import soft_argmax


def heatmap_loss(pred, target, visible):
    pred = pred.nan_to_num(0.0)
    per_joint = F.mse_loss(pred, target, reduction="none").mean(dim=(2, 3))
    return (per_joint * visible).sum() / visible.sum().clamp(min=1.0)


class LitHandPose(L.LightningModule):
    def __init__(self, model, lr=5e-4, max_norm=1.0):
        super().__init__()
        self.model = model
        self.automatic_optimization = False
        self.save_hyperparameters(ignore=["model"])

    def training_step(self, batch, batch_idx):
        opt = self.optimizers()
        heatmaps = self.model(batch["image"])
        target = torch.nan_to_num(batch["heatmaps"])
        loss = heatmap_loss(heatmaps, target, batch["visible"])
        opt.zero_grad()
        self.manual_backward(loss)
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.hparams.max_norm)
        self.log_dict({"train/loss": loss, "train/grad_norm": norm}, prog_bar=True)
        opt.step()

    def validation_step(self, batch, batch_idx):
        heatmaps = self.model(batch["image"])
        coords = soft_argmax(heatmaps).clamp(0.0, 1.0)
        epe = (coords - batch["joints"]).norm(dim=-1)
        self.log("val/epe", (epe * batch["visible"]).sum() / batch["visible"].sum())

    def configure_optimizers(self):
        return torch.optim.AdamW(self.model.parameters(), lr=self.hparams.lr, weight_decay=0.05)
