import lightning as L
import torch
import torch.nn.functional as F
from layers import DecoderLayer
from torch import nn
from transformers import AutoModel


class Summariser(L.LightningModule):
    def __init__(
        self,
        encoder_name="bert-base-uncased",
        vocab_size=30522,
        n_layers=4,
        d_model=768,
        n_heads=12,
        lr=3e-4,
        clip=1.0,
        cov_weight=0.1,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.encoder = AutoModel.from_pretrained(encoder_name)
        self.embed = nn.Embedding(vocab_size, d_model)
        self.layers = nn.ModuleList(
            DecoderLayer(d_model, n_heads, 4 * d_model) for _ in range(n_layers)
        )
        self.lm_head = nn.Linear(d_model, vocab_size)

    def forward(self, src_ids, src_mask, tgt_in):
        memory = self.encoder(input_ids=src_ids, attention_mask=src_mask).last_hidden_state
        t = tgt_in.size(1)
        causal = torch.triu(torch.ones(t, t, dtype=torch.bool, device=tgt_in.device), diagonal=1)
        y = self.embed(tgt_in)
        for layer in self.layers:
            y = layer(y, memory, src_mask, causal)
        return self.lm_head(y)

    def training_step(self, batch, batch_idx):
        logits = self(batch["src_ids"], batch["src_mask"], batch["tgt_ids"][:, :-1])
        target = batch["tgt_ids"][:, 1:]
        loss = F.cross_entropy(logits.transpose(1, 2), target, ignore_index=0, label_smoothing=0.1)
        probs = logits.softmax(-1)
        entropy = -(probs * probs.clamp(min=1e-8).log()).sum(-1).mean()
        self.log_dict({"train/loss": loss, "train/entropy": entropy}, prog_bar=True)
        return loss

    @torch.no_grad()
    def validation_step(self, batch, batch_idx):
        logits = self(batch["src_ids"], batch["src_mask"], batch["tgt_ids"][:, :-1])
        logits = logits.clamp(-30, 30)
        self.log(
            "val/loss",
            F.cross_entropy(logits.transpose(1, 2), batch["tgt_ids"][:, 1:], ignore_index=0),
        )

    def _clip(self):
        params = [p for p in self.parameters() if p.grad is not None]
        return torch.nn.utils.clip_grad_norm_(params, self.hparams.clip)

    def on_before_optimizer_step(self, optimizer):
        self._clip()

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=0.01)
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, self.hparams.lr, total_steps=self.trainer.estimated_stepping_batches
        )
        return [opt], [{"scheduler": sched, "interval": "step"}]


if __name__ == "__main__":
    from data import CnnDmDataModule

    L.Trainer(max_epochs=3, precision="bf16-mixed").fit(Summariser(), CnnDmDataModule())
