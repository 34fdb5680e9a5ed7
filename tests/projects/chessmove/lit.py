import lightning as L
import torch
import torch.nn.functional as F
from model import masked_policy_logits


class LitChess(L.LightningModule):
    def __init__(self, net, lr, weight_decay, value_weight=1.0):
        super().__init__()
        self.net = net
        self.save_hyperparameters(ignore=["net"])

    def training_step(self, batch, batch_idx):
        out = self.net(batch["planes"])
        probs = F.softmax(masked_policy_logits(out["policy"], batch["legal"]), dim=-1)
        policy_loss = -(batch["pi"] * probs.clamp(min=1e-8).log()).sum(-1).mean()
        wdl_target = batch["wdl"].clamp(0.0, 1.0)
        value_loss = F.cross_entropy(out["wdl"], wdl_target)
        loss = policy_loss + self.hparams.value_weight * value_loss
        self.log_dict({"train/policy": policy_loss, "train/value": value_loss}, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        out = self.net(batch["planes"])
        logits = out["policy"].masked_fill(~batch["legal"], torch.finfo(out["policy"].dtype).min)
        acc = (logits.argmax(-1) == batch["pi"].argmax(-1)).float().mean()
        self.log("val/move_acc", acc, sync_dist=True)

    def configure_optimizers(self):
        opt = torch.optim.AdamW(
            self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay
        )
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.trainer.max_steps)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
