import torch
import torch.nn.functional as F
from model import MLP
from omegaconf import OmegaConf


def fit(path):
    cfg = OmegaConf.load(path)
    model = MLP(cfg.model.num_features, cfg.model.hidden, cfg.model.n_out)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.optim.lr)
    loader = torch.utils.data.DataLoader(torch.load(cfg.data.path), batch_size=cfg.data.bs)
    for x, y in loader:
        pred = model(x)
        loss = F.mse_loss(pred, y)
        opt.zero_grad()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.clip)  # noqa: F841
        opt.step()
