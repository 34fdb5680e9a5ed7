import lightning as L
import torch
from decoder import CaptionDecoder
from lightning.pytorch.utilities import grad_norm
from objectives import smoothed_xent


class VideoCaptioner(L.LightningModule):
    def __init__(self, vocab, frame_dim=768, lr=2e-4, clip_val=1.0):
        super().__init__()
        self.save_hyperparameters()
        self.decoder = CaptionDecoder(vocab, frame_dim=frame_dim)

    def forward(self, tokens, frames, frame_pad):
        return self.decoder(tokens, frames, frame_pad)

    def training_step(self, batch, batch_idx):
        tokens, frames, frame_pad = batch["tokens"], batch["frames"], batch["frame_pad"]
        if batch_idx == 0 and frames.shape[-1] != self.hparams.frame_dim:
            raise ValueError(
                f"frame features are {frames.shape[-1]}-d, model expects {self.hparams.frame_dim}"
            )
        logits = self(tokens[:, :-1], frames, frame_pad)
        loss = smoothed_xent(logits, tokens[:, 1:])
        self.log("train/loss", loss)
        return loss

    def on_before_optimizer_step(self, optimizer):
        self.log_dict(grad_norm(self, norm_type=2))

    def configure_gradient_clipping(
        self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None
    ):
        self.clip_gradients(
            optimizer, gradient_clip_val=self.hparams.clip_val, gradient_clip_algorithm="norm"
        )

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=0.05)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10000)
        return [opt], [sched]
