from dataclasses import dataclass, field

from data import ChurnDataset, churn_collate
from modeling import ChurnConfig, ChurnModel
from trainer import ChurnTrainer, compute_metrics
from transformers import HfArgumentParser, TrainingArguments


@dataclass
class ModelArguments:
    n_activity_features: int = field(default=24, metadata={"help": "monthly activity columns"})
    n_static_features: int = field(default=12, metadata={"help": "account attributes"})
    d_model: int = 128
    n_layers: int = 3


@dataclass
class DataArguments:
    train_file: str = "data/churn_train.parquet"
    eval_file: str = "data/churn_eval.parquet"
    months: int = 18


def main():
    parser = HfArgumentParser((ModelArguments, DataArguments, TrainingArguments))
    margs, dargs, targs = parser.parse_args_into_dataclasses()
    train_ds = ChurnDataset(dargs.train_file, months=dargs.months)
    eval_ds = ChurnDataset(dargs.eval_file, months=dargs.months)
    sample = train_ds[0]
    if sample["static"].shape[-1] != margs.n_static_features:
        raise ValueError(
            f"{sample['static'].shape[-1]} static columns, config says {margs.n_static_features}"
        )
    config = ChurnConfig(
        n_activity_features=margs.n_activity_features,
        n_static_features=margs.n_static_features,
        d_model=margs.d_model,
        n_layers=margs.n_layers,
    )
    model = ChurnModel(config)
    trainer = ChurnTrainer(
        model=model,
        args=targs,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        data_collator=churn_collate,
        compute_metrics=compute_metrics,
        pos_weight=3.0,
    )
    trainer.train()
    trainer.save_model()


if __name__ == "__main__":
    main()
