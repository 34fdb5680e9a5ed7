import numpy as np
import torch


def build_adjacency(coords, radius=150.0):
    d = torch.cdist(coords, coords)
    d.fill_diagonal_(float("inf"))
    return d < radius


def pearson_per_gene(pred, true):
    pred = pred - pred.mean(0)
    true = true - true.mean(0)
    r = (pred * true).sum(0) / (np.linalg.norm(pred, axis=0) * np.linalg.norm(true, axis=0) + 1e-8)
    return np.nan_to_num(r)


def fit_step(model, optimizer, loss, max_norm):
    optimizer.zero_grad()
    loss.backward()
    gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    optimizer.step()
    return float(gnorm)
