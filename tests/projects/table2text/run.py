import sys

import torch
from config import RunConfig
from datasets import load_from_disk
from model import Table2Text
from transformers import Trainer, TrainingArguments


def collate(rows):
    feats = torch.nn.utils.rnn.pad_sequence(
        [torch.tensor(r["cells"]) for r in rows], batch_first=True
    )
    lens = torch.tensor([len(r["cells"]) for r in rows])
    pad = torch.arange(feats.shape[1])[None] >= lens[:, None]
    ids = torch.nn.utils.rnn.pad_sequence([torch.tensor(r["ids"]) for r in rows], batch_first=True)
    labels = ids[:, 1:].masked_fill(ids[:, 1:] == 0, -100)
    return {
        "cell_feats": feats.float(),
        "cell_pad": pad,
        "input_ids": ids[:, :-1],
        "labels": labels,
    }


class TableTrainer(Trainer):
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        outputs = model(**inputs)
        loss = outputs["loss"]
        loss = torch.nan_to_num(loss, nan=0.0)
        return (loss, outputs) if return_outputs else loss


def main(path):
    cfg = RunConfig.from_yaml(path)
    ds = load_from_disk(cfg.data_dir)
    model = Table2Text(cfg)
    args = TrainingArguments(
        output_dir=cfg.output_dir,
        learning_rate=cfg.lr,
        per_device_train_batch_size=cfg.batch_size,
        max_grad_norm=1.0,
        logging_steps=50,
        remove_unused_columns=False,
    )
    trainer = TableTrainer(model=model, args=args, train_dataset=ds["train"], data_collator=collate)
    trainer.train()


if __name__ == "__main__":
    main(sys.argv[1])
