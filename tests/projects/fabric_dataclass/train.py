from dataclasses import dataclass

import torch
import torch.nn.functional as F
from lightning.fabric import Fabric
from nets.factory import clip_norm, make_net


@dataclass
class Cfg:
    in_features: int = 32
    hidden_dim: int = 128
    lr: float = 1e-3


def train(loader, steps=100):
    cfg = Cfg()
    fabric = Fabric(accelerator="auto")
    net = make_net(cfg)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    net, opt = fabric.setup(net, opt)
    loader = fabric.setup_dataloaders(loader)
    history = []
    for step, (x, y) in enumerate(loader):
        loss = F.mse_loss(net(x).squeeze(-1), y)
        fabric.backward(loss)
        fabric.clip_gradients(net, opt, max_norm=1.0)
        fabric.clip_gradients(net, opt, clip_val=0.5)
        for _ in range(1):
            clip_norm(net, 1.0)
        history.append((loss.item(), clip_norm(net, 2.0)))
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0).item()
        opt.step()
        opt.zero_grad()
        if step >= steps:
            break
    return history


def one_step(net, opt, x, y):
    loss = F.mse_loss(net(x), y)
    loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
    opt.step()
    return loss, grad_norm
