from setrank.models import DeepSetRanker


def make_model(cfg, stat_dim_override=None):
    mcfg = cfg["model_a"]
    stat_dim = stat_dim_override or mcfg["stat_dim"]
    return DeepSetRanker(stat_dim, hidden_dim=mcfg["hidden_dim"], n_heads=mcfg["n_heads"])


def make_checked_model(cfg, stat_dim_override=None):
    stat_dim = cfg["model_a"]["stat_dim"]
    if stat_dim_override is not None:
        if stat_dim_override != stat_dim:
            raise ValueError(f"data has {stat_dim_override} stats, config says {stat_dim}")
        stat_dim = stat_dim_override
    return DeepSetRanker(stat_dim, hidden_dim=cfg["model_a"]["hidden_dim"])
