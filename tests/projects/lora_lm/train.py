import torch
import torch.nn.functional as F
from heads import ResponsePoolHead
from lora import inject_lora, lora_parameters
from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainingArguments


class LoRATrainer(Trainer):
    def __init__(self, *args, quality_weight=0.1, **kwargs):
        super().__init__(*args, **kwargs)
        self.quality_weight = quality_weight
        self.quality_head = ResponsePoolHead(self.model.config.hidden_size).to(self.args.device)

    def clip_lora(self, model):
        params = lora_parameters(model) + list(self.quality_head.parameters())
        return torch.nn.utils.clip_grad_norm_(params, self.args.max_grad_norm)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels")
        quality = inputs.pop("quality")
        response_mask = inputs.pop("response_mask")
        outputs = model(**inputs, output_hidden_states=True)
        logits = outputs.logits[:, :-1]
        logits = torch.nan_to_num(logits)
        lm_loss = F.cross_entropy(
            logits.reshape(-1, logits.size(-1)), labels[:, 1:].reshape(-1), ignore_index=-100
        )
        q_pred = self.quality_head(outputs.hidden_states[-1], response_mask)
        loss = lm_loss + self.quality_weight * F.mse_loss(q_pred, quality)
        return (loss, outputs) if return_outputs else loss

    def training_step(self, model, inputs, num_items_in_batch=None):
        model.train()
        inputs = self._prepare_inputs(inputs)
        loss = self.compute_loss(model, inputs)
        self.accelerator.backward(loss)
        self.clip_lora(model)
        return loss.detach()


def compute_metrics(eval_pred):
    logits, labels = eval_pred
    logits = torch.nan_to_num(torch.as_tensor(logits))
    pred = logits.argmax(-1)[:, :-1]
    keep = torch.as_tensor(labels)[:, 1:] != -100
    return {"token_acc": (pred[keep] == torch.as_tensor(labels)[:, 1:][keep]).float().mean().item()}


def main():
    tok = AutoTokenizer.from_pretrained("EleutherAI/pythia-160m")
    model = inject_lora(
        AutoModelForCausalLM.from_pretrained("EleutherAI/pythia-160m"), targets=("query_key_value",)
    )
    args = TrainingArguments(
        "out-lora", learning_rate=2e-4, per_device_train_batch_size=8, max_grad_norm=1.0
    )
    train_ds = torch.load("sft_quality.pt")
    trainer = LoRATrainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        tokenizer=tok,
        compute_metrics=compute_metrics,
    )
    trainer.train()


if __name__ == "__main__":
    main()
