import torch


@torch.no_grad()
def confusion(logits, labels, num_classes, ignore_index=-1):
    pred = torch.nan_to_num(logits).argmax(-1)
    keep = labels != ignore_index
    idx = labels[keep] * num_classes + pred[keep]
    return torch.bincount(idx, minlength=num_classes**2).view(num_classes, num_classes)


def miou(conf):
    inter = conf.diag().float()
    union = conf.sum(0) + conf.sum(1) - conf.diag()
    return (inter / union.clamp(min=1).float()).mean().item()
