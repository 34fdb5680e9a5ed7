import torch
import torch.nn.functional as F
from accelerate import Accelerator
from data import RerankDataset, rerank_collate
from losses import listnet_loss, soft_rank
from model import PassageFusionReranker
from transformers import get_cosine_schedule_with_warmup


def main():
    accelerator = Accelerator(mixed_precision="bf16", log_with="wandb")
    accelerator.init_trackers("rerank")
    model = PassageFusionReranker()
    ds = RerankDataset("msmarco", split="train", passages_per_query=16)
    dl = torch.utils.data.DataLoader(ds, batch_size=8, shuffle=True, collate_fn=rerank_collate)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    sched = get_cosine_schedule_with_warmup(opt, 500, 20_000)
    model, opt, dl, sched = accelerator.prepare(model, opt, dl, sched)
    for step, batch in enumerate(dl):
        scores = model(
            batch["input_ids"],
            batch["attention_mask"],
            batch["passage_vecs"],
            batch["passage_mask"],
        )
        target_ranks = (-batch["labels"].float()).argsort(-1).argsort(-1).float() + 1.0
        loss = listnet_loss(scores, batch["labels"], batch["passage_mask"])
        loss = loss + 0.1 * F.mse_loss(soft_rank(scores, tau=0.5), target_ranks)
        accelerator.backward(loss)
        if accelerator.sync_gradients:
            accelerator.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        accelerator.log({"loss": loss.item(), "lr": sched.get_last_lr()[0]}, step=step)
    accelerator.end_training()


if __name__ == "__main__":
    main()
