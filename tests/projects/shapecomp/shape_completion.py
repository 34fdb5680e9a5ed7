#!/usr/bin/env python

# # Occupancy completion from partial scans
# Cross-attention from query points to the encoded partial point cloud.

# In[1]:


import math

import numpy as np
import torch
import torch.nn as nn
from occ_utils import iou, occupancy_loss, pad_mask_scores
from torch.utils.data import DataLoader

device = "cuda" if torch.cuda.is_available() else "cpu"
CONFIG = dict(in_features=6, d=128, heads=4, lr=3e-4, epochs=50, max_norm=1.0, n_query=2048)


# In[2]:


class PointEncoder(nn.Module):
    def __init__(self, in_features, d):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(in_features, d), nn.ReLU(), nn.Linear(d, d))

    def forward(self, pts):
        return self.mlp(pts)


class OccDecoder(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.h = heads
        self.q_embed = nn.Sequential(nn.Linear(3, d), nn.ReLU(), nn.Linear(d, d))
        self.to_q = nn.Linear(d, d)
        self.to_kv = nn.Linear(d, 2 * d)
        self.out = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, 1))

    def forward(self, query_xyz, tokens, point_pad):
        B, M, _ = query_xyz.shape
        d = tokens.shape[-1]
        q = self.to_q(self.q_embed(query_xyz)).view(B, M, self.h, -1).transpose(1, 2)
        k, v = self.to_kv(tokens).view(B, -1, 2, self.h, d // self.h).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-2, -1) / math.sqrt(d // self.h)
        w = pad_mask_scores(scores, point_pad[:, None]).softmax(dim=-1)
        feat = (w @ v).transpose(1, 2).reshape(B, M, d)
        return self.out(feat + self.q_embed(query_xyz)).squeeze(-1)


class Completer(nn.Module):
    def __init__(self, in_features, d, heads):
        super().__init__()
        self.enc = PointEncoder(in_features, d)
        self.dec = OccDecoder(d, heads)

    def forward(self, pts, point_pad, query_xyz):
        return self.dec(query_xyz, self.enc(pts), point_pad)


# In[3]:


from shapenet_partial import PartialScans, collate_partial  # noqa: E402

train_ds = PartialScans("data/shapenet", split="train", n_query=CONFIG["n_query"])
val_ds = PartialScans("data/shapenet", split="val", n_query=CONFIG["n_query"])
train_dl = DataLoader(train_ds, batch_size=32, shuffle=True, collate_fn=collate_partial)
val_dl = DataLoader(val_ds, batch_size=32, collate_fn=collate_partial)

model = Completer(CONFIG["in_features"], CONFIG["d"], CONFIG["heads"]).to(device)
opt = torch.optim.Adam(model.parameters(), lr=CONFIG["lr"])
history = {"loss": [], "grad_norm": [], "val_iou": []}


# In[4]:


for epoch in range(CONFIG["epochs"]):
    model.train()
    for pts, pad, qxyz, occ in train_dl:
        pts = torch.nan_to_num(pts.to(device))
        pad, qxyz, occ = pad.to(device), qxyz.to(device), occ.to(device)
        logits = model(pts, pad, qxyz)
        loss = occupancy_loss(logits, occ, pos_weight=2.0)
        opt.zero_grad()
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), CONFIG["max_norm"])
        opt.step()
        history["loss"].append(loss.item())
        history["grad_norm"].append(gn.item())
    model.eval()
    with torch.no_grad():
        scores = [
            iou(model(p.to(device), m.to(device), q.to(device)), o.to(device))
            for p, m, q, o in val_dl
        ]
    history["val_iou"].append(float(np.mean(scores)))
    print(epoch, np.mean(history["loss"][-len(train_dl) :]), history["val_iou"][-1])


# In[5]:


torch.save(model.state_dict(), "completer.pt")
