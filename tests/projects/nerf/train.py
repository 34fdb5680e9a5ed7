import logging

import torch
import torch.nn as nn
import torch.nn.functional as F
from attention import SampleMixer, ViewAggregator
from losses import distortion_loss, opacity_loss, photometric_loss
from rays import RayBatcher, render_weights

logger = logging.getLogger(__name__)


class SemanticRayTransformer(nn.Module):
    def __init__(self, pos_features=63, view_features=35, width=128, n_classes=21):
        super().__init__()
        self.embed = nn.Linear(pos_features, width)
        self.views = ViewAggregator(width, view_features)
        self.mixer = SampleMixer(width)
        self.sigma = nn.Linear(width, 1)
        self.rgb = nn.Linear(width, 3)
        self.sem = nn.Linear(width, n_classes)

    def forward(self, pts_enc, view_feats, valid, t_vals):
        h = self.embed(pts_enc)
        h = h + self.views(h, view_feats)
        h = self.mixer(h, valid)
        sigma = F.softplus(self.sigma(h).squeeze(-1))
        weights, t_mid, t_delta = render_weights(sigma, t_vals)
        rgb = (weights[..., None] * torch.sigmoid(self.rgb(h))).sum(-2)
        sem_logits = (weights[..., None] * self.sem(h)).sum(-2)
        return {
            "rgb": rgb,
            "sem_logits": sem_logits,
            "acc": weights.sum(-1),
            "weights": weights,
            "t_mid": t_mid,
            "t_delta": t_delta,
        }


def train(scene_dir, iters=200_000, lr=5e-4, lambda_sem=0.04):
    model = SemanticRayTransformer().cuda()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.1 ** (1 / iters))
    batcher = RayBatcher(scene_dir, rays_per_batch=2048)
    for it in range(iters):
        batch = batcher.next()
        out = model(batch["pts_enc"], batch["view_feats"], batch["valid"], batch["t_vals"])
        sem_logits = out["sem_logits"].clamp(-15.0, 15.0)
        loss = photometric_loss(out["rgb"], batch["rgb"])
        loss = loss + lambda_sem * F.cross_entropy(sem_logits, batch["sem"], ignore_index=-1)
        loss = loss + 0.01 * distortion_loss(out["weights"], out["t_mid"], out["t_delta"])
        loss = loss + 0.001 * opacity_loss(out["acc"], batch["fg"])
        optimizer.zero_grad()
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), 0.1)
        optimizer.step()
        sched.step()
        if it % 500 == 0:
            logger.info("it=%d loss=%.5f grad_norm=%.3f", it, loss.item(), gnorm)
            with torch.no_grad():
                psnr = -10 * torch.log10(F.mse_loss(out["rgb"].nan_to_num(), batch["rgb"]))
            logger.info("psnr=%.2f", psnr.item())
