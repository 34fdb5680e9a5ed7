import logging

import torch
from losses import distogram_loss, torsion_loss
from modules import ToyFold

log = logging.getLogger(__name__)


def clip_gradients(model, max_norm):
    return torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)


def train_step(model, batch, opt, cfg):
    out = model(batch)
    l_dist = distogram_loss(out["distogram_logits"], batch["ca_coords"], batch["seq_mask"])
    l_tors = torsion_loss(out["torsions"], batch["torsions"], batch["seq_mask"])
    loss = l_dist + cfg.w_torsion * l_tors
    opt.zero_grad(set_to_none=True)
    loss.backward()
    gnorm = clip_gradients(model, cfg.max_grad_norm)
    opt.step()
    return {"loss": loss.item(), "distogram": l_dist.item(), "grad_norm": float(gnorm)}


def train(cfg, loader):
    model = ToyFold(n_bins=cfg.n_bins)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    for step, batch in enumerate(loader):
        stats = train_step(model, batch, opt, cfg)
        if step % cfg.log_every == 0:
            log.info("step %d %s", step, stats)
    return model
