import torch
import torch.nn.functional as F
from build import make_ranker
from feature_store import FEATURE_STORE
from torch.utils.tensorboard import SummaryWriter


def fit(train_loader, valid_loader, epochs=3, lr=1e-3):
    first = next(iter(train_loader))
    model = make_ranker(
        FEATURE_STORE,
        dense_dim_override=first["user_dense"].shape[-1],
        item_dim_override=first["item_dense"].shape[-1],
    )
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    writer = SummaryWriter("runs/din")
    step = 0
    for epoch in range(epochs):
        model.train()
        for batch in train_loader:
            logits = model(batch).clamp(-15.0, 15.0)
            loss = F.binary_cross_entropy_with_logits(logits, batch["click"].float())
            opt.zero_grad()
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            writer.add_scalar("train/grad_norm", norm, step)
            writer.add_scalar("train/loss", loss.item(), step)
            opt.step()
            step += 1
        writer.add_scalar("valid/logloss", evaluate(model, valid_loader), step)
    return model


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    total, n = 0.0, 0
    for batch in loader:
        p = torch.sigmoid(model(batch)).clamp(1e-7, 1 - 1e-7)
        y = batch["click"].float()
        total += -(y * p.log() + (1 - y) * (1 - p).log()).sum().item()
        n += y.numel()
    return total / max(n, 1)
