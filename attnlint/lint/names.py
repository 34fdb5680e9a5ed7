"""Tables of the library callables rules recognise, keyed by fully qualified name.

Qualified names are what ``RuleContext.qualname`` gives after resolving imports, so
``o.AdamW`` after ``from torch import optim as o`` is looked up as ``torch.optim.AdamW``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LrParam:
    """A learning-rate argument: its keyword and, when it may be passed positionally, its
    0-based position."""

    keyword: str
    position: int | None = None


_LR_FIRST = (LrParam("lr", 1),)  # (params, lr, ...): every torch.optim optimizer and most others

# Families whose capitalised members are optimizers taking ``(params, lr, ...)``.
# ``prefix + ClassName`` must have no further dots (``torch.optim.lr_scheduler.X`` is not
# an optimizer).
OPTIMIZER_FAMILIES: tuple[str, ...] = (
    "torch.optim.",
    "bitsandbytes.optim.",
    "torch_optimizer.",
    "apex.optimizers.",
    "deepspeed.ops.adam.",
    "deepspeed.ops.lamb.",
    "deepspeed.ops.lion.",
    "deepspeed.ops.adagrad.",
    "timm.optim.",
    "schedulefree.",
    "lion_pytorch.",
)

# Individually named optimizers outside the families above.
OPTIMIZERS: dict[str, tuple[LrParam, ...]] = {
    "transformers.AdamW": _LR_FIRST,
    "transformers.optimization.AdamW": _LR_FIRST,
    "transformers.Adafactor": _LR_FIRST,
    "transformers.optimization.Adafactor": _LR_FIRST,
    "timm.optim.create_optimizer_v2": (LrParam("lr", 2),),
    "torch.distributed.optim.ZeroRedundancyOptimizer": (LrParam("lr"),),
}

# LR schedulers whose arguments are learning rates to tune. ``eta_min`` (CosineAnnealingLR)
# and ``min_lr`` (ReduceLROnPlateau) are floors, deliberately not listed: a floor of 0 or
# 1e-6 is not a value anyone sweeps.
SCHEDULERS: dict[str, tuple[LrParam, ...]] = {
    "torch.optim.lr_scheduler.OneCycleLR": (LrParam("max_lr", 1),),
    "torch.optim.lr_scheduler.CyclicLR": (LrParam("base_lr", 1), LrParam("max_lr", 2)),
    "torch.optim.swa_utils.SWALR": (LrParam("swa_lr", 1),),
}

# Framework argument objects that build the optimizer from a keyword learning rate.
TRAINING_ARGUMENTS: dict[str, tuple[LrParam, ...]] = {
    "transformers.TrainingArguments": (LrParam("learning_rate"),),
    "transformers.Seq2SeqTrainingArguments": (LrParam("learning_rate"),),
    "transformers.training_args.TrainingArguments": (LrParam("learning_rate"),),
    "transformers.training_args_seq2seq.Seq2SeqTrainingArguments": (LrParam("learning_rate"),),
}


def is_optimizer(qualname: str) -> bool:
    """An optimizer class (param groups are its first argument)."""
    if qualname in OPTIMIZERS:
        return True
    for prefix in OPTIMIZER_FAMILIES:
        if qualname.startswith(prefix):
            rest = qualname[len(prefix) :]
            return "." not in rest and rest[:1].isupper() and rest not in _NOT_OPTIMIZERS
    return False


# Capitalised names in the families that are not optimizers taking a learning rate.
_NOT_OPTIMIZERS = frozenset({"Optimizer", "GlobalOptimManager", "LBFGS_", "Lookahead"})


def lr_params(qualname: str) -> tuple[LrParam, ...] | None:
    """The learning-rate arguments of a known optimizer, scheduler or arguments class."""
    for table in (OPTIMIZERS, SCHEDULERS, TRAINING_ARGUMENTS):
        if qualname in table:
            return table[qualname]
    if is_optimizer(qualname):
        return _LR_FIRST
    return None


# Gradient clipping functions, by qualified name: the max-norm / clip-value arguments.
CLIP_FUNCTIONS: dict[str, tuple[LrParam, ...]] = {
    "torch.nn.utils.clip_grad_norm_": (LrParam("max_norm", 1),),
    "torch.nn.utils.clip_grad_norm": (LrParam("max_norm", 1),),
    "torch.nn.utils.clip_grad.clip_grad_norm_": (LrParam("max_norm", 1),),
    "torch.nn.utils.clip_grad_value_": (LrParam("clip_value", 1),),
    "torch.nn.utils.clip_grad.clip_grad_value_": (LrParam("clip_value", 1),),
}

# Of those, the ones that return the total norm (``clip_grad_value_`` returns None).
NORM_RETURNING = frozenset(
    {
        "torch.nn.utils.clip_grad_norm_",
        "torch.nn.utils.clip_grad_norm",
        "torch.nn.utils.clip_grad.clip_grad_norm_",
    }
)

# Classes configured with a gradient clipping value.
CLIP_ARGUMENTS: dict[str, tuple[LrParam, ...]] = {
    "lightning.Trainer": (LrParam("gradient_clip_val"),),
    "lightning.pytorch.Trainer": (LrParam("gradient_clip_val"),),
    "pytorch_lightning.Trainer": (LrParam("gradient_clip_val"),),
    "lightning.pytorch.trainer.Trainer": (LrParam("gradient_clip_val"),),
    "pytorch_lightning.trainer.Trainer": (LrParam("gradient_clip_val"),),
    "transformers.TrainingArguments": (LrParam("max_grad_norm"),),
    "transformers.Seq2SeqTrainingArguments": (LrParam("max_grad_norm"),),
}

LIGHTNING_MODULES = frozenset(
    {
        "lightning.LightningModule",
        "lightning.pytorch.LightningModule",
        "pytorch_lightning.LightningModule",
        "lightning.pytorch.core.LightningModule",
        "pytorch_lightning.core.LightningModule",
    }
)
