import torch.nn as nn


def make_net(cfg):
    return nn.Sequential(
        nn.Linear(cfg.in_features, cfg.hidden_dim), nn.ReLU(), nn.Linear(cfg.hidden_dim, 1)
    )


def clip_norm(model, max_norm):
    norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    return float(norm)
