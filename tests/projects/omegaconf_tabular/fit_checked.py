import torch
import torch.nn.functional as F
from model import MLP
from omegaconf import OmegaConf


def fit_checked(path):
    cfg = OmegaConf.load(path)
    X, y = torch.load(cfg.data.path)
    n_features = X.shape[1]
    assert n_features == cfg.model.num_features, (n_features, cfg.model.num_features)
    model = MLP(cfg.model.num_features, cfg.model.hidden, cfg.model.n_out)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.optim.lr)
    norms = []
    for i in range(0, len(X), 256):
        loss = F.mse_loss(model(X[i : i + 256]), y[i : i + 256])
        opt.zero_grad()
        loss.backward()
        norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.clip))
        opt.step()
    return norms
