import torch
import torch.nn.functional as F


def photometric_loss(rgb, target, charbonnier_eps=1e-3):
    rgb = torch.where(torch.isnan(rgb), torch.zeros_like(rgb), rgb)
    return torch.sqrt((rgb - target) ** 2 + charbonnier_eps**2).mean()


def opacity_loss(acc, mask):
    acc = acc.clamp(1e-5, 1 - 1e-5)
    return F.binary_cross_entropy(acc, mask.float())


def distortion_loss(weights, t_mid, t_delta):
    inter = (
        weights[..., :, None]
        * weights[..., None, :]
        * (t_mid[..., :, None] - t_mid[..., None, :]).abs()
    ).sum((-1, -2))
    intra = (weights**2 * t_delta).sum(-1) / 3
    return (inter + intra).mean()
