import lightning as L
import torch
import torch.nn as nn
import torch.nn.functional as F
from layers import PhraseRegionAttention, TextEncoderLayer
from ops import box_iou


class GroundingModule(L.LightningModule):
    def __init__(
        self,
        region_feat_dim=2048,
        vocab_size=30522,
        d_model=256,
        heads=8,
        layers=2,
        lr=1e-4,
        max_grad_norm=1.0,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.region_proj = nn.Linear(self.hparams.region_feat_dim, self.hparams.d_model)
        self.box_proj = nn.Linear(4, self.hparams.d_model)
        self.tok = nn.Embedding(self.hparams.vocab_size, self.hparams.d_model, padding_idx=0)
        self.text = nn.ModuleList([TextEncoderLayer(d_model, heads) for _ in range(layers)])
        self.cross = PhraseRegionAttention(d_model, heads)
        self.match = nn.Linear(d_model, 1)
        self.box_head = nn.Linear(d_model, 4)

    def forward(self, regions, boxes, region_keep, tokens):
        r = self.region_proj(regions) + self.box_proj(boxes)
        token_keep = tokens != 0
        x = self.tok(tokens)
        for layer in self.text:
            x = layer(x, token_keep)
        phrase = (x * token_keep[..., None]).sum(1, keepdim=True) / token_keep.sum(1, keepdim=True)[
            ..., None
        ]
        fused, attn = self.cross(phrase, r, region_keep)
        match_logits = attn.squeeze(1)
        pred_boxes = self.box_head(fused.squeeze(1)).sigmoid()
        return match_logits, pred_boxes

    def training_step(self, batch, batch_idx):
        match_logits, pred_boxes = self(
            batch["regions"], batch["boxes"], batch["region_keep"], batch["tokens"]
        )
        iou = box_iou(batch["boxes"], batch["target"][:, None, :])
        soft_target = (iou > 0.5).float()
        p = match_logits.clamp(1e-6, 1 - 1e-6)
        match_loss = F.binary_cross_entropy(p, soft_target, reduction="none")
        match_loss = (match_loss * batch["region_keep"]).sum() / batch["region_keep"].sum()
        box_loss = F.l1_loss(pred_boxes.clamp(0, 1), batch["target"])
        loss = match_loss + 5.0 * box_loss
        self.log_dict({"train/match": match_loss, "train/box": box_loss}, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        _, pred_boxes = self(
            batch["regions"], batch["boxes"], batch["region_keep"], batch["tokens"]
        )
        acc = (box_iou(pred_boxes, batch["target"]).diag() > 0.5).float().mean()
        self.log("val/acc@0.5", acc, prog_bar=True)

    def on_before_optimizer_step(self, optimizer):
        torch.nn.utils.clip_grad_norm_(self.parameters(), self.hparams.max_grad_norm)

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=0.01)


if __name__ == "__main__":
    from datamodule import GroundingDataModule
    from lightning.pytorch.cli import LightningCLI

    LightningCLI(GroundingModule, GroundingDataModule, trainer_defaults={"max_epochs": 20})
