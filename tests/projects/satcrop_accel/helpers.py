import logging

import torch
from model import TempoCropNet

logger = logging.getLogger(__name__)


def build_model(in_channels, d_model, n_head, n_layers, n_classes, dropout=0.1, **unused):
    model = TempoCropNet(in_channels, d_model, n_head, n_layers, n_classes, dropout)
    logger.info(
        "TempoCropNet with %.2fM parameters", sum(p.numel() for p in model.parameters()) / 1e6
    )
    return model


def clip_and_step(accelerator, model, optimizer, scheduler, max_grad_norm):
    norm = None
    if accelerator.sync_gradients:
        norm = accelerator.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad()
    return norm


def class_weights(labels, n_classes):
    counts = torch.bincount(labels, minlength=n_classes).float()
    return (counts.sum() / counts.clamp(min=1.0)) / n_classes
