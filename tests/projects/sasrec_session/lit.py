import lightning as L
import torch
from losses import bce_probs_loss, bpr_loss
from model import SASRec


class SASRecModule(L.LightningModule):
    def __init__(self, n_items, lr=1e-3, max_norm=5.0, objective="bpr"):
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.net = SASRec(n_items)

    def forward(self, seq, pos_items, neg_items):
        return self.net(seq, pos_items, neg_items)

    def training_step(self, batch, batch_idx):
        opt = self.optimizers()
        pos_logits, neg_logits = self(batch["seq"], batch["pos"], batch["neg"])
        valid = (batch["pos"] != 0).float()
        if self.hparams.objective == "bpr":
            loss = bpr_loss(pos_logits, neg_logits, valid)
        else:
            loss = bce_probs_loss(torch.sigmoid(pos_logits), torch.sigmoid(neg_logits), valid)
        opt.zero_grad()
        self.manual_backward(loss)
        grad_norm = torch.nn.utils.clip_grad_norm_(self.parameters(), self.hparams.max_norm)  # noqa: F841
        opt.step()
        self.log("train/loss", loss, prog_bar=True)

    @torch.no_grad()
    def validation_step(self, batch, batch_idx):
        h = self.net.encode(batch["seq"])[:, -1]
        scores = h @ self.net.item.weight.T
        scores = scores.nan_to_num(-1e4)
        scores[:, 0] = -1e4
        rank = (scores > scores.gather(1, batch["target"][:, None])).sum(1)
        self.log("val/hr@10", (rank < 10).float().mean())
        self.log("val/ndcg@10", ((rank < 10).float() / torch.log2(rank.float() + 2)).mean())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr, betas=(0.9, 0.98))
