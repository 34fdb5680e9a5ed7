import torch
from torch.cuda.amp import GradScaler, autocast
from utils.build import build_checked
from utils.optim import step_optimizer


def train(cfg, loader):
    sample = next(iter(loader))
    model = build_checked(cfg, in_dim_override=sample["feats"].shape[-1])
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    scaler = GradScaler()
    history = []
    for batch in loader:
        with autocast():
            out = model(batch["feats"])
            loss = torch.nn.functional.cross_entropy(out, batch["label"])
        scaler.scale(loss).backward()
        gnorm = step_optimizer(scaler, optimizer, model, cfg.max_norm)
        history.append((loss.item(), gnorm))
    return history
