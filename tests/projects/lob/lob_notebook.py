#!/usr/bin/env python

# # Mid-price direction from LOB snapshots (FI-2010 style)

# In[1]:


import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from layers import CausalLevels, SnapshotAttention

CFG = {"d_in": 40, "d_model": 64, "T": 100, "horizon": 10, "lr": 1e-4, "epochs": 40, "bs": 64}


# In[2]:


class LOBFormer(nn.Module):
    def __init__(self, d_in, d_model, n_classes=3):
        super().__init__()
        self.inp = nn.Linear(d_in, d_model)
        self.causal = CausalLevels(d_model, T=CFG["T"])
        self.attn = SnapshotAttention(d_model)
        self.head = nn.Linear(d_model, n_classes)

    def forward(self, x, fresh):
        h = self.causal(self.inp(x))
        h = h + self.attn(h, fresh)
        return self.head(h[:, -1])


def make_model(d_in=None):
    d_in = d_in or CFG["d_in"]
    return LOBFormer(d_in, CFG["d_model"])


# In[3]:


X_tr = torch.from_numpy(np.load("lob_train_x.npy")).float().nan_to_num(0.0)
y_tr = torch.from_numpy(np.load("lob_train_y.npy")).long()
F_tr = torch.from_numpy(np.load("lob_train_fresh.npy")).bool()
X_tr = (X_tr - X_tr.mean((0, 1))) / X_tr.std((0, 1)).clamp(min=1e-6)
print(X_tr.shape, y_tr.bincount())


# In[4]:


model = make_model(d_in=X_tr.shape[-1]).cuda()
opt = torch.optim.Adam(model.parameters(), lr=CFG["lr"])
ds = torch.utils.data.TensorDataset(X_tr, F_tr, y_tr)
dl = torch.utils.data.DataLoader(ds, batch_size=CFG["bs"], shuffle=True)
class_w = (1.0 / y_tr.bincount().float()).cuda()


# In[5]:


hist = []
for epoch in range(CFG["epochs"]):
    for xb, fb, yb in dl:
        xb, fb, yb = xb.cuda(), fb.cuda(), yb.cuda()
        logits = model(xb, fb)
        loss = F.cross_entropy(logits, yb, weight=class_w / class_w.sum())
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        hist.append(loss.item())
    print(epoch, np.mean(hist[-len(dl) :]))


# In[6]:


ft_opt = torch.optim.Adam(model.head.parameters(), lr=CFG["lr"] / 10)
gn_hist = []
for xb, fb, yb in dl:
    xb, fb, yb = xb.cuda(), fb.cuda(), yb.cuda()
    loss = F.cross_entropy(model(xb, fb), yb)
    ft_opt.zero_grad()
    loss.backward()
    gn = torch.nn.utils.clip_grad_norm_(model.head.parameters(), 0.5)
    gn_hist.append(gn.item())
    ft_opt.step()
print("head grad norm p50", np.median(gn_hist))


# In[7]:


with torch.no_grad():
    p = F.softmax(model(X_tr[:512].cuda(), F_tr[:512].cuda()), -1).clamp(1e-6, 1 - 1e-6)
    print("val nll", -torch.log(p.gather(1, y_tr[:512, None].cuda())).mean().item())
