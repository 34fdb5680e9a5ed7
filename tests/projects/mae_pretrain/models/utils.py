import torch
import torch.nn.functional as F


def pairwise_logits(q, k):
    return torch.matmul(q, k.transpose(-2, -1))


def patchify(imgs, p):
    b, c, h, w = imgs.shape
    x = imgs.reshape(b, c, h // p, p, w // p, p)
    x = torch.einsum("nchpwq->nhwpqc", x)
    return x.reshape(b, (h // p) * (w // p), p * p * c)


def clip_and_step(model, optimizer, scaler, max_norm):
    scaler.unscale_(optimizer)
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad(set_to_none=True)
    return norm


def masked_mse(pred, target, mask):
    loss = F.mse_loss(pred, target, reduction="none").mean(-1)
    return (loss * mask).sum() / mask.sum()
