import logging

import hydra
import torch
import torch.nn.functional as F
from data import make_loaders
from factory import build_model
from omegaconf import DictConfig

log = logging.getLogger(__name__)


def focal(logits, y, pos_weight, gamma=2.0):
    logits = logits.clamp(-12.0, 12.0)
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, y, pos_weight=pos_weight, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    return (ce * (1 - p_t) ** gamma).mean()


@hydra.main(config_path="conf", config_name="credit", version_base=None)
def main(cfg: DictConfig):
    train_dl, val_dl = make_loaders(cfg.data)
    x_num, x_cat, present, lines, line_mask, y = next(iter(train_dl))
    if x_cat.shape[1] != len(cfg.data.cat_cardinalities):
        raise ValueError(
            f"{x_cat.shape[1]} categorical columns, config lists {len(cfg.data.cat_cardinalities)}"
        )
    model = build_model(cfg, n_num_override=x_num.shape[1]).cuda()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr, weight_decay=cfg.optim.wd)
    pos_weight = torch.tensor(cfg.data.pos_weight, device="cuda")
    for epoch in range(cfg.optim.epochs):
        model.train()
        for step, batch in enumerate(train_dl):
            x_num, x_cat, present, lines, line_mask, y = (t.cuda() for t in batch)
            logits = model(x_num, x_cat, present, lines, line_mask)
            loss = focal(logits, y.float(), pos_weight, cfg.optim.gamma)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gn = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.max_norm)
            opt.step()
            if step % 50 == 0:
                log.info("epoch %d step %d loss %.4f grad_norm %.3f", epoch, step, loss.item(), gn)
        evaluate(model, val_dl)


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    ps, ys = [], []
    for batch in loader:
        *x, y = (t.cuda() for t in batch)
        ps.append(torch.sigmoid(model(*x)).clamp(1e-6, 1 - 1e-6))
        ys.append(y)
    p, y = torch.cat(ps), torch.cat(ys).float()
    log.info("val logloss %.4f", F.binary_cross_entropy(p, y).item())
