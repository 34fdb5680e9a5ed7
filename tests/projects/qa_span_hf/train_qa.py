import argparse

import torch
import torch.nn.functional as F
from datasets import load_from_disk
from losses import distill_kl, span_ce
from modeling import SpanExtractor
from transformers import Trainer, TrainingArguments, default_data_collator


class SpanQATrainer(Trainer):
    def __init__(self, *args, teacher=None, distill_weight=0.0, temperature=2.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.teacher = teacher
        self.distill_weight = distill_weight
        self.temperature = temperature

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        starts = inputs.pop("start_positions")
        ends = inputs.pop("end_positions")
        outputs = model(**inputs)
        loss = span_ce(outputs["start_logits"], outputs["end_logits"], starts, ends)
        has_answer = (starts > 0).float()
        loss = loss + 0.5 * F.binary_cross_entropy_with_logits(
            outputs["has_answer_logits"], has_answer
        )
        if self.teacher is not None and self.distill_weight > 0:
            with torch.no_grad():
                t_out = self.teacher(**inputs)
            kd = distill_kl(outputs["start_logits"], t_out["start_logits"], self.temperature)
            kd = kd + distill_kl(outputs["end_logits"], t_out["end_logits"], self.temperature)
            loss = loss + self.distill_weight * kd
        return (loss, outputs) if return_outputs else loss

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        inputs = self._prepare_inputs(inputs)
        with torch.no_grad():
            outputs = model(**{k: v for k, v in inputs.items() if not k.endswith("_positions")})
        start = outputs["start_logits"].nan_to_num(neginf=-1e4)
        end = outputs["end_logits"].nan_to_num(neginf=-1e4)
        return None, (start, end), None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model_name", default="roberta-base")
    p.add_argument("--data", default="data/squad_v2_tok")
    p.add_argument("--n_extra_features", type=int, default=3)
    p.add_argument("--lr", type=float, default=3e-5)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--out", default="out/qa")
    args = p.parse_args()

    ds = load_from_disk(args.data)
    model = SpanExtractor(args.model_name, n_extra_features=args.n_extra_features)
    targs = TrainingArguments(
        output_dir=args.out,
        learning_rate=args.lr,
        num_train_epochs=args.epochs,
        per_device_train_batch_size=16,
        max_grad_norm=1.0,
        logging_steps=50,
        remove_unused_columns=False,
        bf16=torch.cuda.is_available(),
    )
    trainer = SpanQATrainer(
        model=model,
        args=targs,
        train_dataset=ds["train"],
        eval_dataset=ds["validation"],
        data_collator=default_data_collator,
    )
    trainer.train()


if __name__ == "__main__":
    main()
