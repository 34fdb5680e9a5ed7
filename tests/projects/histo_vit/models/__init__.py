import torchvision

from .vit import HistoViT


def build_model(name, cfg, in_channels=None, **kw):
    in_channels = in_channels or cfg.in_channels
    if name == "vit_s16":
        return HistoViT(in_channels, cfg.n_classes, dim=384, heads=6, **kw)
    elif name == "vit_b16":
        return HistoViT(in_channels, cfg.n_classes, dim=768, heads=12, **kw)
    elif name == "resnet50":
        return torchvision.models.resnet50(num_classes=cfg.n_classes)
    raise ValueError(f"unknown model {name}")
