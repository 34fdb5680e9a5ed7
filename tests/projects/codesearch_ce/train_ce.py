import logging

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from data import CodeQueryPairs, collate
from heads import build_cross_encoder
from omegaconf import OmegaConf
from torch.utils.data import DataLoader

logger = logging.getLogger(__name__)


def listwise_ce(scores, labels):
    return F.cross_entropy(scores.view(-1, labels.shape[-1]), labels.argmax(-1))


def main(cfg_path="conf/ce.yaml"):
    cfg = OmegaConf.load(cfg_path)
    accelerator = Accelerator(mixed_precision="bf16", log_with="wandb")
    accelerator.init_trackers("codesearch-ce")
    ds = CodeQueryPairs(cfg.data.path, cfg.data.negatives)
    loader = DataLoader(ds, batch_size=cfg.train.batch_size, collate_fn=collate, shuffle=True)
    probe = next(iter(loader))
    model = build_cross_encoder(cfg, n_lex_override=probe["lex"].shape[-1])
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr, weight_decay=0.01)
    model, opt, loader = accelerator.prepare(model, opt, loader)
    step = 0
    for epoch in range(cfg.train.epochs):
        for batch in loader:
            lex = torch.nan_to_num(batch["lex"], nan=0.0)
            scores = model(batch["input_ids"], batch["attention_mask"], lex)
            scores = scores.clamp(-12.0, 12.0)
            loss = listwise_ce(scores, batch["labels"])
            accelerator.backward(loss)
            norm = accelerator.clip_grad_norm_(model.parameters(), cfg.train.max_norm)  # noqa: F841
            opt.step()
            opt.zero_grad()
            step += 1
            if step % cfg.train.log_every == 0:
                accelerator.log({"loss": loss.item()}, step=step)
    accelerator.end_training()


if __name__ == "__main__":
    main()
