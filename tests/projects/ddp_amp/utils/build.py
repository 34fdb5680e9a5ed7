import torch.nn as nn


class Net(nn.Module):
    def __init__(self, in_dim, hidden, n_out):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, n_out))

    def forward(self, x):
        return self.body(x)


def build_model(cfg, in_dim_override=None):
    in_dim = cfg.model.in_dim
    if in_dim_override is not None:
        in_dim = in_dim_override
    return Net(in_dim, cfg.model.hidden, cfg.model.n_out)


def build_checked(cfg, in_dim_override=None):
    in_dim = cfg.model.in_dim
    if in_dim_override is not None:
        if in_dim_override != in_dim:
            raise ValueError(f"data width {in_dim_override} != configured {in_dim}")
        in_dim = in_dim_override
    return Net(in_dim, cfg.model.hidden, cfg.model.n_out)
