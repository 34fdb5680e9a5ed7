import logging

import numpy as np
import soundfile as sf
import torch
from config import SepConfig
from losses import pit_si_snr, si_snr
from model import DualPathSeparator
from torch.utils.data import DataLoader, Dataset

log = logging.getLogger("sep")


class MixtureDataset(Dataset):
    def __init__(self, rows, cfg):
        self.rows = rows
        self.seg = int(cfg.segment_seconds * cfg.sample_rate)

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        row = self.rows[i]
        mix, _ = sf.read(row["mix"], dtype="float32")
        srcs = np.stack([sf.read(p, dtype="float32")[0] for p in row["sources"]])
        mix = np.nan_to_num(mix)  # a few corrupt files in the 2mix set
        start = np.random.randint(0, max(1, len(mix) - self.seg))
        return torch.from_numpy(mix[start : start + self.seg]), torch.from_numpy(
            srcs[:, start : start + self.seg]
        )


def train_one_epoch(model, loader, opt, cfg):
    model.train()
    total = 0.0
    for mix, sources in loader:
        est = model(mix)
        loss = -pit_si_snr(est, sources).mean()
        opt.zero_grad()
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)  # noqa: F841
        opt.step()
        total += loss.item()
    return total / max(1, len(loader))


def finetune_epoch(model, loader, opt, cfg, history):
    model.train()
    for mix, sources in loader:
        loss = -pit_si_snr(model(mix), sources).mean()
        opt.zero_grad()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip / 5)
        history.append(norm.item())
        opt.step()


@torch.no_grad()
def validate(model, loader):
    model.eval()
    scores = []
    for mix, sources in loader:
        est = torch.nan_to_num(model(mix))
        scores.append(si_snr(est, sources).mean().item())
    return float(np.mean(scores))


def main(rows_train, rows_valid):
    cfg = SepConfig()
    model = DualPathSeparator(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    train_loader = DataLoader(
        MixtureDataset(rows_train, cfg), batch_size=cfg.batch_size, shuffle=True
    )
    valid_loader = DataLoader(MixtureDataset(rows_valid, cfg), batch_size=1)
    for epoch in range(cfg.epochs):
        tr = train_one_epoch(model, train_loader, opt, cfg)
        va = validate(model, valid_loader)
        log.info("epoch %d train %.3f valid si-snr %.2f", epoch, tr, va)
