import torch.nn as nn
from torchvision.models import vgg16_bn


class CSRNetLike(nn.Module):
    def __init__(self, in_channels, width=64, pretrained=True):
        super().__init__()
        self.stem = nn.Conv2d(in_channels, 3, 1) if in_channels != 3 else nn.Identity()
        self.frontend = vgg16_bn(weights="DEFAULT" if pretrained else None).features[:33]
        layers = []
        c = 512
        for out in (512, 512, 512, 256, 128, width):
            layers += [nn.Conv2d(c, out, 3, padding=2, dilation=2), nn.ReLU(inplace=True)]
            c = out
        self.backend = nn.Sequential(*layers)
        self.out = nn.Conv2d(width, 1, 1)

    def forward(self, x):
        return self.out(self.backend(self.frontend(self.stem(x))))


def build_counter(cfg, in_channels=None):
    return CSRNetLike(in_channels or cfg.model.in_channels, cfg.model.width, cfg.model.pretrained)


def build_counter_checked(cfg, in_channels=None):
    if in_channels is not None and in_channels != cfg.model.in_channels:
        raise ValueError(f"images have {in_channels} channels, config says {cfg.model.in_channels}")
    return CSRNetLike(cfg.model.in_channels, cfg.model.width, cfg.model.pretrained)
