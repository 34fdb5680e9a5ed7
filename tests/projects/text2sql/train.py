import json
import sys

import torch
from t2s import losses as L
from t2s.model import LinkedT5
from transformers import AutoTokenizer, Trainer, TrainingArguments


class SpiderCollator:
    def __init__(self, tok):
        self.tok = tok

    def __call__(self, rows):
        enc = self.tok([r["question"] for r in rows], padding=True, return_tensors="pt")
        sql = self.tok([r["query"] for r in rows], padding=True, return_tensors="pt").input_ids
        sql[sql == self.tok.pad_token_id] = -100
        schema = self.tok(
            [" | ".join(r["columns"]) for r in rows], padding=True, return_tensors="pt"
        )
        values = self.tok(
            [" ".join(r["matched_values"]) or "<pad>" for r in rows],
            padding=True,
            return_tensors="pt",
        )
        return {
            "input_ids": enc.input_ids,
            "attention_mask": enc.attention_mask,
            "schema_ids": schema.input_ids,
            "schema_pad": schema.attention_mask == 0,
            "value_ids": values.input_ids,
            "value_matched": values.attention_mask.bool()
            & torch.tensor([[bool(r["matched_values"])] for r in rows]),
            "labels": sql,
        }


class LinkedTrainer(Trainer):
    def compute_loss(self, model, inputs, return_outputs=False, **kwargs):
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        logits = outputs.logits
        loss = L.seq_loss(logits, labels)
        return (loss, outputs) if return_outputs else loss


def main(cfg_path):
    cfg = json.load(open(cfg_path))  # noqa: SIM115
    tok = AutoTokenizer.from_pretrained(cfg["model_name"])
    rows = [json.loads(l) for l in open(cfg["train_file"])]  # noqa: SIM115
    model = LinkedT5(cfg["model_name"])
    args = TrainingArguments(
        output_dir=cfg["out"],
        learning_rate=cfg["lr"],
        per_device_train_batch_size=cfg["batch_size"],
        max_grad_norm=cfg["max_grad_norm"],
        num_train_epochs=cfg["epochs"],
        logging_steps=50,
        remove_unused_columns=False,
    )
    trainer = LinkedTrainer(
        model=model, args=args, train_dataset=rows, data_collator=SpiderCollator(tok)
    )
    trainer.train()


if __name__ == "__main__":
    main(sys.argv[1])
