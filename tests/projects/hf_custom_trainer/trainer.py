import torch
import torch.nn.functional as F
from accelerate import Accelerator
from transformers import Trainer


class RankingTrainer(Trainer):
    def compute_loss(self, model, inputs, return_outputs=False):
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        logits = outputs.logits
        logits = torch.nan_to_num(logits, nan=0.0)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), labels.view(-1))
        return (loss, outputs) if return_outputs else loss

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        with torch.no_grad():
            outputs = model(**inputs)
        logits = torch.nan_to_num(outputs.logits)
        return None, logits, inputs.get("labels")


def train_accelerate(model, loader, optimizer, epochs=1):
    accelerator = Accelerator(gradient_accumulation_steps=4)
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    for _ in range(epochs):
        for batch in loader:
            with accelerator.accumulate(model):
                loss = model(**batch).loss
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                optimizer.zero_grad()


def train_accelerate_logged(model, loader, optimizer):
    accelerator = Accelerator(log_with="wandb")
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    for step, batch in enumerate(loader):
        out = model(**batch)
        accelerator.backward(out.loss)
        if accelerator.sync_gradients:
            grad_norm = accelerator.clip_grad_norm_(model.parameters(), 1.0)
            accelerator.log({"grad_norm": grad_norm}, step=step)
        optimizer.step()
        optimizer.zero_grad()
