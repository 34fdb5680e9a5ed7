#!/usr/bin/env python

# # Keyword spotting with a small transformer (Speech Commands v2)

# In[1]:


import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from helpers import focal_weight, log_mel, smooth_ce

CONFIG = {"input_dim": 40, "d_model": 96, "heads": 4, "layers": 4, "n_classes": 35, "lr": 1e-3}


# In[2]:


X_train = torch.load("sc_train_feats.pt")
y_train = torch.load("sc_train_labels.pt")
len_train = torch.load("sc_train_lens.pt")
print(X_train.shape, y_train.shape)


# In[3]:


class FrameAttentionPool(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.query = nn.Parameter(torch.randn(1, 1, d))
        self.key = nn.Linear(d, d)
        self.temperature = math.sqrt(d)

    def forward(self, h, lengths):
        t = h.size(1)
        pad = torch.arange(t, device=h.device)[None, :] >= lengths[:, None]
        e = (self.query @ self.key(h).transpose(1, 2)).squeeze(1) / self.temperature
        e = e.masked_fill(pad, float("-inf"))
        a = F.softmax(e, dim=-1)
        return torch.bmm(a.unsqueeze(1), h).squeeze(1)


class KWSTransformer(nn.Module):
    def __init__(self, input_dim, d_model, heads, layers, n_classes):
        super().__init__()
        self.proj = nn.Linear(input_dim, d_model)
        layer = nn.TransformerEncoderLayer(
            d_model, heads, 4 * d_model, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers)
        self.pool = FrameAttentionPool(d_model)
        self.cls = nn.Linear(d_model, n_classes)

    def forward(self, x, lengths):
        pad = torch.arange(x.size(1), device=x.device)[None, :] >= lengths[:, None]
        h = self.encoder(self.proj(x), src_key_padding_mask=pad)
        return self.cls(self.pool(h, lengths))


# In[4]:


model = KWSTransformer(
    CONFIG["input_dim"], CONFIG["d_model"], CONFIG["heads"], CONFIG["layers"], CONFIG["n_classes"]
)
opt = torch.optim.AdamW(model.parameters(), lr=CONFIG["lr"])
norms = []


# In[5]:


for epoch in range(15):
    perm = torch.randperm(len(X_train))
    for i in range(0, len(perm), 128):
        idx = perm[i : i + 128]
        xb, yb, lb = X_train[idx], y_train[idx], len_train[idx]
        out = model(xb, lb)
        w = focal_weight(out.softmax(-1).detach(), yb)
        loss = (smooth_ce(out, yb) * w).mean()
        opt.zero_grad()
        loss.backward()
        norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0).item())
        opt.step()
    print(epoch, loss.item(), sum(norms[-50:]) / 50)


# In[6]:


wave = torch.load("my_recording.pt")
feats = log_mel(wave).T[None]
print(model(feats, torch.tensor([feats.size(1)])).softmax(-1).topk(3))
