from types import SimpleNamespace

import torch
from modules import SetTransformer

cfg = SimpleNamespace(data=SimpleNamespace(point_dim=3, path="val.pt"))


def main():
    loader = torch.utils.data.DataLoader(torch.load(cfg.data.path), batch_size=16)
    points, mask, _ = next(iter(loader))
    assert points.shape[-1] == cfg.data.point_dim
    model = SetTransformer(point_dim=cfg.data.point_dim)
    model.load_state_dict(torch.load("ckpt.pt"))
    preds = []
    with torch.no_grad():
        for points, mask, _ in loader:
            preds.append(torch.nan_to_num(model(points, mask)))
    return torch.cat(preds)
