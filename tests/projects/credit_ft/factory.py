from model import CreditTransformer


def build_model(cfg, n_num_override=None):
    n_num = n_num_override or cfg.data.n_num_features
    return CreditTransformer(
        n_num,
        list(cfg.data.cat_cardinalities),
        cfg.data.n_line_features,
        d_token=cfg.model.d_token,
        n_blocks=cfg.model.n_blocks,
    )
