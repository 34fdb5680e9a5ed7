import numpy as np
import torch
import torch.nn.functional as F
from transformers import Trainer


def causal_lm_loss(logits, labels, ignore_index=-100):
    shift_logits = logits[..., :-1, :].contiguous().clamp(min=-30.0, max=30.0)
    shift_labels = labels[..., 1:].contiguous()
    return F.cross_entropy(
        shift_logits.view(-1, shift_logits.size(-1)).float(),
        shift_labels.view(-1),
        ignore_index=ignore_index,
    )


class FIMTrainer(Trainer):
    """Trainer for fill-in-the-middle code completion: loss on the middle span only."""

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        logits = torch.nan_to_num(outputs.logits, nan=0.0, posinf=1e4, neginf=-1e4)
        loss = causal_lm_loss(logits, labels)
        return (loss, outputs) if return_outputs else loss


def compute_metrics(eval_pred):
    logits, labels = eval_pred
    logits = np.nan_to_num(logits[:, :-1], nan=-1e9)
    labels = labels[:, 1:]
    keep = labels != -100
    preds = logits.argmax(-1)
    return {"token_acc": float((preds[keep] == labels[keep]).mean())}
