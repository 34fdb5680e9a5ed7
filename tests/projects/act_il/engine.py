import math
import sys

import torch
import torch.nn.functional as F
import utils.misc as misc


def compute_loss(a_hat, actions, is_pad, mu, logvar, kl_weight):
    l1 = (F.l1_loss(actions, a_hat, reduction="none") * ~is_pad.unsqueeze(-1)).mean()
    return l1 + kl_weight * misc.kl_divergence(mu, logvar), l1


def train_one_epoch(model, data_loader, optimizer, device, epoch, max_norm, kl_weight):
    model.train()
    meter = {
        "loss": misc.SmoothedValue(),
        "l1": misc.SmoothedValue(),
        "grad_norm": misc.SmoothedValue(),
    }
    for it, (image_feat, qpos, actions, is_pad) in enumerate(data_loader):
        image_feat, qpos = image_feat.to(device), qpos.to(device)
        actions, is_pad = actions.to(device), is_pad.to(device)
        a_hat, mu, logvar = model(qpos, image_feat, actions, is_pad)
        loss, l1 = compute_loss(a_hat, actions, is_pad, mu, logvar, kl_weight)
        if not math.isfinite(loss.item()):
            print(f"Loss is {loss.item()}, stopping training")
            sys.exit(1)
        optimizer.zero_grad()
        loss.backward()
        if max_norm > 0:
            misc.clip_grads(model.parameters(), max_norm)
        optimizer.step()
        meter["loss"].update(loss.item())
        meter["l1"].update(l1.item())
    print(f"epoch {epoch}: loss {meter['loss'].avg:.4f} l1 {meter['l1'].avg:.4f}")
    return {k: m.avg for k, m in meter.items()}


@torch.no_grad()
def evaluate(model, data_loader, device):
    model.eval()
    errs = []
    for image_feat, qpos, actions, is_pad in data_loader:
        a_hat, _, _ = model(
            qpos.to(device), image_feat.to(device), actions.to(device), is_pad.to(device)
        )
        errs.append(
            (
                F.l1_loss(a_hat, actions.to(device), reduction="none")
                * ~is_pad.to(device).unsqueeze(-1)
            )
            .mean()
            .item()
        )
    return sum(errs) / len(errs)
