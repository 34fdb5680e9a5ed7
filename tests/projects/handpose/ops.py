import torch


def attend(q, k, v):
    attn = torch.softmax(torch.einsum("bhid,bhjd->bhij", q, k), dim=-1)
    return torch.einsum("bhij,bhjd->bhid", attn, v)


def soft_argmax(heatmaps, beta=100.0):
    b, j, h, w = heatmaps.shape
    p = torch.softmax(heatmaps.flatten(2) * beta, dim=-1).view(b, j, h, w)
    ys = torch.linspace(0, 1, h, device=heatmaps.device)
    xs = torch.linspace(0, 1, w, device=heatmaps.device)
    return torch.stack([(p.sum(2) * xs).sum(-1), (p.sum(3) * ys).sum(-1)], dim=-1)
