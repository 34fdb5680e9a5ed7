import numpy as np
import torch

H36M_BONES = [
    (0, 1),
    (1, 2),
    (2, 3),
    (0, 4),
    (4, 5),
    (5, 6),
    (0, 7),
    (7, 8),
    (8, 9),
    (9, 10),
    (8, 11),
    (11, 12),
    (12, 13),
    (8, 14),
    (14, 15),
    (15, 16),
]


def normalize_screen(kp, w, h):
    return kp / w * 2 - np.array([1, h / w])


def n_mpjpe(pred, target):
    pred = pred.clamp(-2.0, 2.0)
    norm_pred = (pred * pred).sum(dim=(-1, -2), keepdim=True)
    norm_tgt = (target * pred).sum(dim=(-1, -2), keepdim=True)
    s = norm_tgt / norm_pred.clamp(min=1e-6)
    return (s * pred - target).norm(dim=-1).mean()


def bone_direction_loss(pred, target):
    a = pred[..., [j for _, j in H36M_BONES], :] - pred[..., [i for i, _ in H36M_BONES], :]
    b = target[..., [j for _, j in H36M_BONES], :] - target[..., [i for i, _ in H36M_BONES], :]
    cos = torch.nn.functional.cosine_similarity(a, b, dim=-1)
    return torch.acos(cos.clamp(-1 + 1e-6, 1 - 1e-6)).mean()


def mpjpe_mm(pred, target):
    return (pred - target).norm(dim=-1).mean().item() * 1000
