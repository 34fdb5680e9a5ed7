import torch


def pairwise_scores(q, k):
    return torch.einsum("bhpd,bhrd->bhpr", q, k)


def masked_logits(logits, keep):
    return logits.masked_fill(~keep[:, None, None, :], float("-inf"))


def box_iou(a, b):
    lt = torch.max(a[..., :2], b[..., :2])
    rb = torch.min(a[..., 2:], b[..., 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area_a = (a[..., 2:] - a[..., :2]).prod(-1)
    area_b = (b[..., 2:] - b[..., :2]).prod(-1)
    return inter / (area_a + area_b - inter + 1e-6)
