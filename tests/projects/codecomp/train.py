from dataclasses import dataclass, field

from datasets import load_dataset
from fim import FIMCollator, fim_transform
from modeling import TinyCoderConfig, TinyCoderForCausalLM
from trainer import FIMTrainer, compute_metrics
from transformers import AutoTokenizer, HfArgumentParser, TrainingArguments


@dataclass
class ModelArguments:
    tokenizer: str = "bigcode/starcoder"
    n_embd: int = 768
    n_head: int = 12
    n_layer: int = 12
    n_ctx: int = 2048


@dataclass
class DataArguments:
    dataset: str = "bigcode/the-stack-smol"
    fim_rate: float = field(default=0.5)


def main():
    parser = HfArgumentParser((ModelArguments, DataArguments, TrainingArguments))
    margs, dargs, targs = parser.parse_args_into_dataclasses()
    tok = AutoTokenizer.from_pretrained(margs.tokenizer)
    tok.padding_side = "left"
    ds = load_dataset(dargs.dataset, split="train").train_test_split(test_size=0.01)
    ds = ds.map(lambda ex: fim_transform(ex, tok, dargs.fim_rate), remove_columns=["content"])
    config = TinyCoderConfig(
        vocab_size=len(tok),
        n_embd=margs.n_embd,
        n_head=margs.n_head,
        n_layer=margs.n_layer,
        n_ctx=margs.n_ctx,
    )
    model = TinyCoderForCausalLM(config)
    trainer = FIMTrainer(
        model=model,
        args=targs,
        train_dataset=ds["train"],
        eval_dataset=ds["test"],
        data_collator=FIMCollator(tok, margs.n_ctx),
        compute_metrics=compute_metrics,
    )
    trainer.train()


if __name__ == "__main__":
    main()
