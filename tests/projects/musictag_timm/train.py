import logging

import hydra
import torch
from data import TaggingDataset
from losses import AsymmetricLoss, bce_logits_stable
from models import create_model
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader

log = logging.getLogger(__name__)


@torch.no_grad()
def evaluate(model, loader, device):
    model.eval()
    ps, ys = [], []
    for batch in loader:
        preds = torch.sigmoid(model(batch["spec"].to(device))).nan_to_num(0.0)
        ps.append(preds.cpu())
        ys.append(batch["tags"])
    p, y = torch.cat(ps), torch.cat(ys)
    order = p.argsort(0, descending=True)
    hits = y.gather(0, order)
    prec = hits.cumsum(0) / torch.arange(1, len(hits) + 1)[:, None]
    ap = (prec * hits).sum(0) / hits.sum(0).clamp(min=1)
    model.train()
    return ap.mean().item()


@hydra.main(config_path="conf", config_name="train", version_base=None)
def main(cfg: DictConfig):
    log.info(OmegaConf.to_yaml(cfg))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    train_set = TaggingDataset(cfg.data.root, "train", cfg.data.n_mels, cfg.data.frames)
    val_set = TaggingDataset(cfg.data.root, "valid", cfg.data.n_mels, cfg.data.frames)
    train_loader = DataLoader(
        train_set, batch_size=cfg.train.batch_size, shuffle=True, num_workers=8
    )
    val_loader = DataLoader(val_set, batch_size=cfg.train.batch_size, num_workers=8)
    first = next(iter(train_loader))
    cfg.model.freq_dim = int(first["spec"].shape[1])
    model = create_model(
        cfg.model.name, freq_dim=cfg.model.freq_dim, num_classes=cfg.data.n_tags
    ).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.wd)
    asl = AsymmetricLoss()
    step = 0
    for epoch in range(cfg.train.epochs):
        for batch in train_loader:
            spec, tags = batch["spec"].to(device), batch["tags"].float().to(device)
            outputs = model(spec, batch["patch_keep"].to(device))
            if cfg.train.loss == "asl":
                loss = asl(outputs, tags)
            else:
                loss = bce_logits_stable(outputs, tags)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.clip)
            opt.step()
            step += 1
            if step % 100 == 0:
                log.info("step %d loss %.4f grad_norm %.3f", step, loss.item(), grad_norm.item())
        log.info("epoch %d mAP %.4f", epoch, evaluate(model, val_loader, device))


if __name__ == "__main__":
    main()
