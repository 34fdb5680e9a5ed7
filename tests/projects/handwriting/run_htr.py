from dataclasses import dataclass, field

import torch
from datasets import load_dataset
from htr.model import HTRConfig, HTRModel
from htr.trainer import CTCTrainer
from transformers import HfArgumentParser, TrainingArguments

CHARS = " !\"#&'()*+,-./0123456789:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass
class ModelArguments:
    in_channels: int = field(default=1)
    d_model: int = field(default=256)
    n_layers: int = field(default=4)


def build_model(model_args, in_channels_override=None):
    in_channels = model_args.in_channels
    if in_channels_override is not None:
        in_channels = in_channels_override
    cfg = HTRConfig(
        in_channels=in_channels,
        d_model=model_args.d_model,
        n_layers=model_args.n_layers,
        vocab_size=len(CHARS) + 1,
    )
    return HTRModel(cfg)


def collate(examples):
    pix = [e["pixel_values"].clamp(0.0, 1.0) for e in examples]
    widths = torch.tensor([p.shape[-1] for p in pix])
    batch = torch.zeros(len(pix), pix[0].shape[0], 64, int(widths.max()))
    for i, p in enumerate(pix):
        batch[i, :, :, : p.shape[-1]] = p
    labels = torch.cat([torch.tensor([CHARS.index(c) + 1 for c in e["text"]]) for e in examples])
    label_lengths = torch.tensor([len(e["text"]) for e in examples])
    return {
        "pixel_values": batch,
        "widths": widths,
        "labels": labels,
        "label_lengths": label_lengths,
    }


def main():
    model_args, training_args = HfArgumentParser(
        (ModelArguments, TrainingArguments)
    ).parse_args_into_dataclasses()
    ds = load_dataset("Teklia/IAM-line").with_format("torch")
    sample = ds["train"][0]["pixel_values"]
    model = build_model(model_args, in_channels_override=sample.shape[0])
    trainer = CTCTrainer(
        model=model,
        args=training_args,
        train_dataset=ds["train"],
        eval_dataset=ds["validation"],
        data_collator=collate,
    )
    trainer.train()
    trainer.save_model()


if __name__ == "__main__":
    main()
