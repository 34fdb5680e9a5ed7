import math

import torch


def coords_grid(b, h, w, device):
    ys, xs = torch.meshgrid(
        torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij"
    )
    return torch.stack([xs, ys], dim=-1).float().view(1, h * w, 2).expand(b, -1, -1)


def corr_volume(f1, f2):
    return torch.einsum("bnc,bmc->bnm", f1, f2)


def scaled_corr(f1, f2):
    return torch.einsum("bnc,bmc->bnm", f1, f2) / math.sqrt(f1.shape[-1])


def clip_and_step(model, optimizer, max_norm):
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return norm


def sequence_loss(flow_preds, flow_gt, valid, gamma=0.9, max_flow=400.0):
    mag = flow_gt.pow(2).sum(1, keepdim=True).sqrt()
    valid = (valid[:, None] >= 0.5) & (mag < max_flow)
    flow_loss = 0.0
    n = len(flow_preds)
    for i, pred in enumerate(flow_preds):
        w = gamma ** (n - i - 1)
        flow_loss = flow_loss + w * (valid * (pred - flow_gt).abs()).mean()
    return torch.nan_to_num(flow_loss, nan=0.0, posinf=0.0)


@torch.no_grad()
def epe(flow_pred, flow_gt, valid):
    err = (flow_pred - flow_gt).pow(2).sum(1).sqrt()
    err = torch.nan_to_num(err, nan=1e3)
    return err[valid >= 0.5].mean().item()
