import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score
from transformers import Trainer


def weighted_bce(logits, labels, pos_weight):
    logits = torch.clamp(logits, min=-8.0, max=8.0)
    return F.binary_cross_entropy_with_logits(logits, labels.float(), pos_weight=pos_weight)


class ChurnTrainer(Trainer):
    def __init__(self, *args, pos_weight=3.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.pos_weight = torch.tensor(pos_weight)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        logits = outputs["logits"]
        loss = weighted_bce(logits, labels, self.pos_weight.to(logits.device))
        return (loss, outputs) if return_outputs else loss


def compute_metrics(eval_pred):
    logits, labels = eval_pred
    probs = 1.0 / (1.0 + np.exp(-np.nan_to_num(logits)))
    probs = np.clip(probs, 1e-6, 1 - 1e-6)
    return {
        "auc": roc_auc_score(labels, probs),
        "logloss": float(-np.mean(labels * np.log(probs) + (1 - labels) * np.log(1 - probs))),
    }
