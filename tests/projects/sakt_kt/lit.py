import lightning as L
import torch
import torch.nn.functional as F
from model import SAKT
from torchmetrics.classification import BinaryAUROC


class SAKTModule(L.LightningModule):
    def __init__(self, n_skills, lr=1e-3, max_norm=1.0, d_model=128):
        super().__init__()
        self.save_hyperparameters()
        self.model = SAKT(n_skills, d_model=d_model)
        self.val_auc = BinaryAUROC()

    def forward(self, interactions, exercises):
        return self.model(interactions, exercises)

    def training_step(self, batch, batch_idx):
        logits = self(batch["interactions"], batch["exercises"])
        logits = logits.clamp(-15.0, 15.0)
        keep = batch["exercises"] != 0
        loss = F.binary_cross_entropy_with_logits(logits[keep], batch["correct"][keep].float())
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        logits = self(batch["interactions"], batch["exercises"])
        keep = batch["exercises"] != 0
        probs = torch.sigmoid(logits).nan_to_num(0.5)
        probs = probs.clamp(1e-6, 1 - 1e-6)
        self.val_auc.update(probs[keep], batch["correct"][keep])
        nll = F.binary_cross_entropy(probs[keep], batch["correct"][keep].float())
        self.log("val/nll", nll)

    def on_validation_epoch_end(self):
        self.log("val/auc", self.val_auc.compute())
        self.val_auc.reset()

    def on_before_optimizer_step(self, optimizer):
        torch.nn.utils.clip_grad_norm_(self.parameters(), self.hparams.max_norm)

    def configure_gradient_clipping(
        self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None
    ):
        self.clip_gradients(
            optimizer, gradient_clip_val=gradient_clip_val, gradient_clip_algorithm="value"
        )

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


if __name__ == "__main__":
    from data import make_loaders

    train_dl, val_dl, n_skills = make_loaders("assist2009.csv", max_len=100)
    trainer = L.Trainer(max_epochs=30, gradient_clip_val=1.0)
    trainer.fit(SAKTModule(n_skills), train_dl, val_dl)
