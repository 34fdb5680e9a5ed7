import json
import sys

import torch
import torch.nn.functional as F
from config import EHRConfig
from data import VisitSequenceDataset, collate_patients
from modeling import build_model
from transformers import Trainer, TrainingArguments


class MultiTaskTrainer(Trainer):
    def __init__(self, *args, pos_weight=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.pos_weight = pos_weight

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        logits = outputs["logits"]
        logits = torch.nan_to_num(logits)
        observed = ~torch.isnan(labels)
        loss = F.binary_cross_entropy_with_logits(
            logits[observed],
            labels[observed],
            pos_weight=None
            if self.pos_weight is None
            else self.pos_weight.expand_as(labels)[observed],
        )
        return (loss, outputs) if return_outputs else loss


def compute_metrics(eval_pred):
    logits, labels = eval_pred
    probs = 1 / (1 + (-torch.as_tensor(logits)).exp())
    labels = torch.as_tensor(labels)
    ok = ~torch.isnan(labels)
    brier = ((probs - labels.nan_to_num()) ** 2)[ok].mean().item()
    return {"brier": brier}


def main(path):
    with open(path) as f:
        raw = json.load(f)
    cfg = EHRConfig.from_dict(raw["model"])
    train_ds = VisitSequenceDataset(raw["data"]["train"], cfg.max_visits, cfg.max_codes)
    eval_ds = VisitSequenceDataset(raw["data"]["eval"], cfg.max_visits, cfg.max_codes)
    first = collate_patients([train_ds[0]])
    if first["demo"].shape[-1] != cfg.n_demo_features:
        raise ValueError("demographics columns changed since the config was written")
    model = build_model(cfg, n_lab_features=first["labs"].shape[-1])
    args = TrainingArguments(
        output_dir=raw.get("out", "runs/ehr"),
        per_device_train_batch_size=64,
        learning_rate=3e-4,
        num_train_epochs=20,
        max_grad_norm=1.0,
        bf16=True,
        remove_unused_columns=False,
        logging_steps=50,
    )
    trainer = MultiTaskTrainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        data_collator=collate_patients,
        compute_metrics=compute_metrics,
    )
    trainer.train()


if __name__ == "__main__":
    main(sys.argv[1])
