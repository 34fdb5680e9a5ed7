import logging

import torch
from losses import confidence_penalty, slot_gate_loss, value_span_loss
from model import DialogueStateTracker
from transformers import Trainer, TrainingArguments

logger = logging.getLogger(__name__)


class DSTTrainer(Trainer):
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        gate_labels = inputs.pop("gate_labels")
        starts = inputs.pop("start_positions")
        ends = inputs.pop("end_positions")
        outputs = model(**inputs)
        gate_loss = slot_gate_loss(outputs["gate_logits"], gate_labels)
        start_logits = outputs["start_logits"].clamp(-30.0, 30.0)
        end_logits = outputs["end_logits"].clamp(-30.0, 30.0)
        span_loss = value_span_loss(start_logits, end_logits, starts, ends)
        loss = gate_loss + span_loss + confidence_penalty(outputs["gate_logits"])
        return (loss, outputs) if return_outputs else loss

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        with torch.no_grad():
            outputs = model(
                **{k: v for k, v in inputs.items() if not k.endswith(("labels", "positions"))}
            )
            gates = outputs["gate_logits"].softmax(-1).nan_to_num()
        return None, gates.argmax(-1), inputs.get("gate_labels")


def joint_goal_accuracy(eval_pred):
    preds, labels = eval_pred
    return {"jga": float((preds == labels).all(-1).mean())}


def main(train_ds, eval_ds, slots, output_dir="out/dst"):
    model = DialogueStateTracker("bert-base-uncased", n_slots=len(slots))
    args = TrainingArguments(
        output_dir=output_dir,
        learning_rate=3e-5,
        num_train_epochs=5,
        per_device_train_batch_size=16,
        max_grad_norm=1.0,
        evaluation_strategy="epoch",
        logging_steps=50,
        bf16=True,
    )
    trainer = DSTTrainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        compute_metrics=joint_goal_accuracy,
    )
    trainer.train()
    logger.info("final %s", trainer.evaluate())
