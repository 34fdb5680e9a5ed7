import hydra
import lightning as L
import torch
from omegaconf import DictConfig
from rnafold import losses
from rnafold.data import BpRNADataset, collate
from rnafold.model import PairHead, SeqEncoder
from torch.utils.data import DataLoader


class RNAFolder(L.LightningModule):
    def __init__(self, cfg: DictConfig):
        super().__init__()
        self.save_hyperparameters(cfg)
        self.automatic_optimization = False
        self.encoder = SeqEncoder(
            self.hparams.in_dim, self.hparams.dim, self.hparams.heads, self.hparams.layers
        )
        self.head = PairHead(self.hparams.dim, self.hparams.heads, self.hparams.n_axial)

    def forward(self, onehot, pad):
        return self.head(self.encoder(onehot, pad), pad)

    def training_step(self, batch, batch_idx):
        opt = self.optimizers()
        sched = self.lr_schedulers()
        logits = self(batch["onehot"], batch["pad"])
        pair_mask = (~batch["pad"])[:, :, None] & (~batch["pad"])[:, None, :]
        loss = losses.pair_bce(logits, batch["contacts"], pair_mask.float())
        loss = loss + 0.1 * losses.soft_f1(logits, batch["contacts"], pair_mask.float())
        opt.zero_grad()
        self.manual_backward(loss)
        self.clip_gradients(
            opt, gradient_clip_val=self.hparams.clip, gradient_clip_algorithm="norm"
        )
        opt.step()
        sched.step()
        self.log("train/loss", loss, prog_bar=True)

    def validation_step(self, batch, batch_idx):
        logits = self(batch["onehot"], batch["pad"])
        pred = (torch.sigmoid(logits) > 0.5).float()
        tp = (pred * batch["contacts"]).sum()
        f1 = 2 * tp / (pred.sum() + batch["contacts"].sum() + 1e-6)
        self.log("val/f1", f1)

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=0.01)
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=self.hparams.lr, total_steps=self.hparams.steps
        )
        return [opt], [sched]


@hydra.main(config_path="conf", config_name="train", version_base=None)
def main(cfg: DictConfig):
    train = DataLoader(
        BpRNADataset(cfg.data.train), batch_size=cfg.batch_size, collate_fn=collate, shuffle=True
    )
    val = DataLoader(BpRNADataset(cfg.data.val), batch_size=cfg.batch_size, collate_fn=collate)
    model = RNAFolder(cfg.model)
    L.Trainer(max_steps=cfg.model.steps, precision="bf16-mixed").fit(model, train, val)


if __name__ == "__main__":
    main()
