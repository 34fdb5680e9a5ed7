from types import SimpleNamespace

import torch
import torch.nn.functional as F
from modules import SetTransformer

cfg = SimpleNamespace(
    data=SimpleNamespace(point_dim=3, path="points.pt"),
    model=SimpleNamespace(hidden=128, heads=4),
    lr=1e-3,
)


def main():
    model = SetTransformer(point_dim=cfg.data.point_dim, dim_hidden=cfg.model.hidden)
    loader = torch.utils.data.DataLoader(torch.load(cfg.data.path), batch_size=16)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    for points, mask, y in loader:
        out = model(points, mask)
        loss = F.mse_loss(out.squeeze(-1), y)
        opt.zero_grad()
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
