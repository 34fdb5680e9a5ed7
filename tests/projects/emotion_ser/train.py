from dataclasses import dataclass

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from data import EmotionCorpus, pad_collate
from modules import SERModel
from torch.utils.data import DataLoader


@dataclass
class Cfg:
    root: str = "data/iemocap"
    batch_size: int = 32
    lr: float = 2e-4
    epochs: int = 30
    max_grad_norm: float = 5.0
    arousal_weight: float = 0.3


def ccc_loss(pred, target):
    pm, tm = pred.mean(), target.mean()
    cov = ((pred - pm) * (target - tm)).mean()
    return 1 - 2 * cov / (pred.var() + target.var() + (pm - tm) ** 2)


def train(cfg: Cfg):
    acc = Accelerator(log_with="tensorboard", project_dir="runs")
    acc.init_trackers("ser")
    model = SERModel()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    dl = DataLoader(
        EmotionCorpus(cfg.root, "train"), cfg.batch_size, shuffle=True, collate_fn=pad_collate
    )
    val = DataLoader(EmotionCorpus(cfg.root, "dev"), cfg.batch_size, collate_fn=pad_collate)
    model, opt, dl, val = acc.prepare(model, opt, dl, val)
    step = 0
    for epoch in range(cfg.epochs):
        model.train()
        for mel, frame_mask, label, arousal in dl:
            logits, a_pred = model(mel, frame_mask)
            logits = logits.masked_fill(torch.isnan(logits), 0.0)
            loss = F.cross_entropy(logits, label, label_smoothing=0.05)
            loss = loss + cfg.arousal_weight * ccc_loss(a_pred, arousal)
            acc.backward(loss)
            total_norm = acc.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)  # noqa: F841
            opt.step()
            opt.zero_grad()
            acc.log({"train/loss": loss.item()}, step=step)
            step += 1
        acc.log({"val/uar": evaluate(model, val)}, step=step)
    acc.end_training()


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    hits = torch.zeros(7)
    counts = torch.zeros(7)
    for mel, frame_mask, label, _ in loader:
        logits, _ = model(mel, frame_mask)
        probs = logits.softmax(-1).nan_to_num()
        pred = probs.argmax(-1).cpu()
        for c in range(7):
            sel = label.cpu() == c
            hits[c] += (pred[sel] == c).sum()
            counts[c] += sel.sum()
    return (hits / counts.clamp(min=1)).mean().item()


if __name__ == "__main__":
    train(Cfg())
