from model import EEGTransformer


def build_model(cfg, n_channels=None):
    in_channels = n_channels or cfg.model.in_channels
    return EEGTransformer(
        in_channels,
        cfg.data.n_samples,
        cfg.model.d_model,
        cfg.model.heads,
        cfg.model.depth,
        cfg.data.n_classes,
    )
