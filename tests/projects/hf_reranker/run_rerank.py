import sys
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from datasets import load_dataset
from modeling import Reranker, RerankerConfig
from transformers import AutoTokenizer, HfArgumentParser, Trainer, TrainingArguments


@dataclass
class ModelArguments:
    encoder_name: str = field(default="bert-base-uncased")
    num_heads: int = field(default=12)


class RerankTrainer(Trainer):
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        logits = outputs["logits"]
        logits = torch.clamp(logits, min=-15.0, max=15.0)
        loss = F.binary_cross_entropy_with_logits(logits, labels.float())
        return (loss, outputs) if return_outputs else loss

    def training_step(self, model, inputs, num_items_in_batch=None):
        model.train()
        inputs = self._prepare_inputs(inputs)
        loss = self.compute_loss(model, inputs)
        self.accelerator.backward(loss)
        if self.args.max_grad_norm:
            self.accelerator.clip_grad_norm_(model.parameters(), self.args.max_grad_norm)
        return loss.detach()

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        labels = inputs.pop("labels")
        with torch.no_grad():
            logits = model(**inputs)["logits"]
            probs = torch.sigmoid(logits).clamp(1e-6, 1 - 1e-6)
            loss = F.binary_cross_entropy(probs, labels.float())
        return loss, logits, labels


def main():
    parser = HfArgumentParser((ModelArguments, TrainingArguments))
    model_args, training_args = parser.parse_args_into_dataclasses()
    tokenizer = AutoTokenizer.from_pretrained(model_args.encoder_name)
    raw = load_dataset("json", data_files=sys.argv[-1])

    def tokenize(ex):
        enc = tokenizer(ex["query"], ex["passage"], truncation=True, padding="max_length")
        enc["span_mask"] = enc["attention_mask"]
        enc["labels"] = ex["label"]
        return enc

    ds = raw.map(tokenize, batched=True)
    config = RerankerConfig(encoder_name=model_args.encoder_name, num_heads=model_args.num_heads)
    model = Reranker(config)
    trainer = RerankTrainer(model=model, args=training_args, train_dataset=ds["train"])
    trainer.train()


if __name__ == "__main__":
    main()
