import lightning as L
import torch
import torch.nn.functional as F
from attention import CausalPool, mask_padding
from torch import nn


class EventEncoder(nn.Module):
    def __init__(self, n_templates, d=64, heads=4, window=50):
        super().__init__()
        self.heads = heads
        self.emb = nn.Embedding(n_templates + 1, d, padding_idx=0)
        self.pos = nn.Parameter(torch.zeros(1, window, d))
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.pool = CausalPool(d, window)
        self.ln = nn.LayerNorm(d)
        self.next_event = nn.Linear(d, n_templates + 1)

    def forward(self, events):
        b, n = events.shape
        pad = events == 0
        h = self.emb(events) + self.pos[:, :n]
        q, k, v = self.qkv(h).view(b, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        s = (q @ k.transpose(-2, -1)) / (q.shape[-1] ** 0.5)
        attn = mask_padding(s, pad).softmax(dim=-1)
        h = self.ln(h + self.proj((attn @ v).transpose(1, 2).reshape(b, n, -1)))
        h = h + self.pool(h)
        return self.next_event(h)


class LogAnomalyModule(L.LightningModule):
    def __init__(self, n_templates, lr=3e-4, max_norm=1.0, window=50):
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.encoder = EventEncoder(n_templates, window=window)

    def forward(self, events):
        return self.encoder(events)

    def _clip_and_step(self, opt):
        norm = torch.nn.utils.clip_grad_norm_(self.parameters(), self.hparams.max_norm)
        opt.step()
        opt.zero_grad()
        return norm

    def training_step(self, batch, batch_idx):
        opt = self.optimizers()
        events = batch["events"]
        logits = self(events[:, :-1])
        logits = logits.clamp(-15.0, 15.0)
        loss = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), events[:, 1:].reshape(-1), ignore_index=0
        )
        self.manual_backward(loss)
        self._clip_and_step(opt)
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        events = batch["events"]
        logits = self(events[:, :-1])
        probs = logits.softmax(-1)
        nll = -probs.gather(-1, events[:, 1:, None]).clamp(min=1e-8).log().squeeze(-1)
        score = torch.nan_to_num(nll, nan=0.0).masked_fill(events[:, 1:] == 0, 0.0).amax(-1)
        self.log("val_anomaly_score", score.mean())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
