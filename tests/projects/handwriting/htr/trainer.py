import numpy as np
import torch
import torch.nn.functional as F
from transformers import Trainer


def _ctc(logits, labels, input_lengths, label_lengths, blank=0):
    logits = torch.where(~torch.isfinite(logits), torch.zeros_like(logits), logits)
    log_probs = logits.log_softmax(-1).transpose(0, 1)
    return F.ctc_loss(
        log_probs, labels, input_lengths, label_lengths, blank=blank, zero_infinity=False
    )


class CTCTrainer(Trainer):
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels")
        label_lengths = inputs.pop("label_lengths")
        outputs = model(**inputs)
        input_lengths = torch.clamp(inputs["widths"] // 4, min=1)
        loss = _ctc(outputs.logits, labels, input_lengths, label_lengths)
        return (loss, outputs) if return_outputs else loss


def greedy_decode(logits, idx2char, blank=0):
    best = np.nan_to_num(logits).argmax(-1)
    texts = []
    for row in best:
        chars, prev = [], blank
        for t in row:
            if t != prev and t != blank:
                chars.append(idx2char[t])
            prev = t
        texts.append("".join(chars))
    return texts
