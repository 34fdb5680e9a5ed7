#!/usr/bin/env python

# # QM9 equivariant diffusion: training notebook

# In[1]:


import json

import torch
from egnn import EGNNDenoiser
from qm9 import QM9Conformers, collate_mols
from torch.utils.data import DataLoader

# In[2]:


with open("configs/qm9_small.json") as f:
    config = json.load(f)
config  # noqa: B018


# In[3]:


ds = QM9Conformers("data/qm9", split="train")
loader = DataLoader(ds, batch_size=config["batch_size"], shuffle=True, collate_fn=collate_mols)
first = next(iter(loader))
config["n_atom_features"] = first["h"].shape[-1]
model = EGNNDenoiser(config["n_atom_features"], dim=config["dim"], depth=config["depth"]).cuda()
opt = torch.optim.Adam(model.parameters(), lr=config["lr"])


# In[4]:


T = 1000
betas = torch.linspace(1e-4, 0.02, T).cuda()
alpha_bar = torch.cumprod(1 - betas, 0)


def masked_mse(pred, target, mask):
    pred = torch.where(torch.isnan(pred), torch.zeros_like(pred), pred)
    err = (pred - target).pow(2).sum(-1)
    return (err * mask).sum() / mask.sum()


def remove_com(x, mask):
    com = (x * mask[..., None]).sum(1, keepdim=True) / mask.sum(1, keepdim=True)[..., None]
    return (x - com) * mask[..., None]


# In[5]:


history = []
for epoch in range(config["epochs"]):
    for batch in loader:
        h, x, mask = batch["h"].cuda(), batch["x"].cuda().nan_to_num(), batch["mask"].cuda()
        x = remove_com(x, mask.float())
        t = torch.randint(0, T, (h.shape[0],), device=h.device)
        ab = alpha_bar[t][:, None, None]
        eps_h, eps_x = torch.randn_like(h), remove_com(torch.randn_like(x), mask.float())
        h_t = ab.sqrt() * h + (1 - ab).sqrt() * eps_h
        x_t = ab.sqrt() * x + (1 - ab).sqrt() * eps_x
        pred_h, pred_x = model(h_t, x_t, t.float() / T, mask)
        loss = masked_mse(pred_h, eps_h, mask.float()) + masked_mse(pred_x, eps_x, mask.float())
        opt.zero_grad()
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), config["max_norm"])
        opt.step()
        history.append(loss.item())
    print(epoch, sum(history[-100:]) / 100)
