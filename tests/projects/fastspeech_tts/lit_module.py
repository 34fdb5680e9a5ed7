import torch
import torch.nn.functional as F
from lightning.pytorch import LightningModule
from model import FastSpeech


def duration_loss(log_dur_pred, durations, src_pad):
    log_dur_pred = log_dur_pred.clamp(-4.0, 4.0)
    target = torch.log(durations.float() + 1.0)
    keep = ~src_pad
    return F.mse_loss(log_dur_pred[keep], target[keep])


class LitFastSpeech(LightningModule):
    def __init__(
        self,
        n_symbols: int = 80,
        n_mels: int = 80,
        d_model: int = 256,
        lr: float = 1e-3,
        dur_weight: float = 1.0,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.model = FastSpeech(n_symbols, n_mels=n_mels, d_model=d_model)

    def forward(self, phonemes, durations=None):
        return self.model(phonemes, durations)

    def training_step(self, batch, batch_idx):
        mel_pred, log_dur, mel_pad = self(batch["phonemes"], batch["durations"])
        keep = ~mel_pad
        mel_loss = F.l1_loss(mel_pred[keep], batch["mel"][keep])
        dur_loss = duration_loss(log_dur, batch["durations"], batch["phonemes"] == 0)
        loss = mel_loss + self.hparams.dur_weight * dur_loss
        loss = torch.nan_to_num(loss, nan=0.0)
        self.log_dict({"train/mel": mel_loss, "train/dur": dur_loss}, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        mel_pred, log_dur, mel_pad = self(batch["phonemes"], batch["durations"])
        keep = ~mel_pad
        self.log("val/mel", F.l1_loss(mel_pred[keep], batch["mel"][keep]))
        if batch_idx == 0:
            img = torch.nan_to_num(mel_pred[0]).clamp(-11.5, 2.0).T.detach().cpu()
            self.logger.experiment.add_image("val/mel", img.unsqueeze(0), self.global_step)

    def configure_gradient_clipping(
        self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None
    ):
        self.clip_gradients(optimizer, gradient_clip_val=1.0, gradient_clip_algorithm="norm")

    def configure_optimizers(self):
        opt = torch.optim.Adam(self.parameters(), lr=self.hparams.lr, betas=(0.9, 0.98), eps=1e-9)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: min((s + 1) ** -0.5, (s + 1) * 4000**-1.5)
        )
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
