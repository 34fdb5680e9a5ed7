import torch
import torch.nn.functional as F
from accelerate import Accelerator
from data import ContactDataset, pad_collate
from model import ContactPredictor
from omegaconf import OmegaConf
from torch.utils.data import DataLoader


def contact_loss(logits, contacts, pair_mask, min_sep=6):
    n = logits.shape[-1]
    idx = torch.arange(n, device=logits.device)
    sep = (idx[None, :] - idx[:, None]).abs() >= min_sep
    m = pair_mask & sep
    pos_weight = torch.tensor(5.0, device=logits.device)
    return F.binary_cross_entropy_with_logits(logits[m], contacts[m].float(), pos_weight=pos_weight)


def main():
    cfg = OmegaConf.load("configs/contact.yaml")
    accelerator = Accelerator(gradient_accumulation_steps=cfg.train.accum, log_with="wandb")
    accelerator.init_trackers("contacts", config=OmegaConf.to_container(cfg))
    ds = ContactDataset(cfg.data.root, emb_model=cfg.data.emb_model, max_len=cfg.data.max_len)
    loader = DataLoader(ds, batch_size=cfg.train.batch_size, shuffle=True, collate_fn=pad_collate)
    model = ContactPredictor(
        input_dim=cfg.model.input_dim, pair_dim=cfg.model.pair_dim, depth=cfg.model.depth
    )
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr, weight_decay=0.05)
    model, opt, loader = accelerator.prepare(model, opt, loader)
    step = 0
    for epoch in range(cfg.train.epochs):
        for batch in loader:
            if batch["emb"].shape[1] > cfg.data.max_len:
                raise ValueError("sequence longer than max_len")
            with accelerator.accumulate(model):
                logits = model(batch["emb"], batch["pair_extra"], batch["res_mask"])
                pair_mask = batch["res_mask"][:, :, None] & batch["res_mask"][:, None, :]
                loss = contact_loss(logits, batch["contacts"], pair_mask)
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(model.parameters(), cfg.train.max_norm)
                opt.step()
                opt.zero_grad()
            if accelerator.sync_gradients:
                step += 1
                accelerator.log({"loss": loss.item(), "epoch": epoch}, step=step)
    accelerator.end_training()


if __name__ == "__main__":
    main()
