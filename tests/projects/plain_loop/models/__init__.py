from models.transformer import Encoder


def build_model(cfg, in_dim_override=None):
    in_dim = cfg["model"]["in_dim"]
    if in_dim_override is not None:
        in_dim = in_dim_override
    return Encoder(
        in_dim,
        d_model=cfg["model"]["d_model"],
        n_heads=cfg["model"]["n_heads"],
        n_layers=cfg["model"]["n_layers"],
    )
