from dataclasses import dataclass

import torch
import torch.nn.functional as F
from models import build_model
from tiles import TileDataset, tile_collate
from transformers import Trainer, TrainingArguments


@dataclass
class HistoConfig:
    arch: str = "vit_s16"
    in_channels: int = 3
    n_classes: int = 9
    label_smoothing: float = 0.1
    focal_gamma: float = 2.0


def focal_term(logits, labels, gamma):
    p = logits.softmax(-1).gather(-1, labels[:, None]).squeeze(-1).clamp(1e-6, 1.0)
    return ((1 - p) ** gamma * -p.log()).mean()


class HistoTrainer(Trainer):
    def __init__(self, *a, histo_cfg=None, **kw):
        super().__init__(*a, **kw)
        self.histo_cfg = histo_cfg

    def compute_loss(self, model, inputs, return_outputs=False, **kwargs):
        labels = inputs.pop("labels")
        logits = model(inputs["pixel_values"], inputs["tissue"])
        loss = F.cross_entropy(logits, labels, label_smoothing=self.histo_cfg.label_smoothing)
        loss = loss + focal_term(logits, labels, self.histo_cfg.focal_gamma)
        loss = torch.where(torch.isnan(loss), torch.zeros_like(loss), loss)
        return (loss, logits) if return_outputs else loss


def main():
    cfg = HistoConfig()
    train_ds = TileDataset("data/tiles_train.h5", stain_norm="macenko")
    sample = tile_collate([train_ds[0]])
    model = build_model(cfg.arch, cfg, in_channels=sample["pixel_values"].shape[1])
    args = TrainingArguments(
        output_dir="runs/histo",
        per_device_train_batch_size=64,
        learning_rate=5e-4,
        num_train_epochs=30,
        max_grad_norm=1.0,
        bf16=True,
        logging_steps=50,
        remove_unused_columns=False,
    )
    trainer = HistoTrainer(
        model=model, args=args, train_dataset=train_ds, data_collator=tile_collate, histo_cfg=cfg
    )
    trainer.train()


if __name__ == "__main__":
    main()
