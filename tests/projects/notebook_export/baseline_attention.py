#!/usr/bin/env python

# In[1]:


import math

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F

# In[2]:


CONFIG = {
    "n_features": 24,
    "hidden": 64,
    "lr": 1e-3,
    "clip": 5.0,
    "epochs": 20,
    "seq_len": 16,
}
df = pd.read_csv("train.csv")
X_train = torch.tensor(df.drop(columns=["target"]).values, dtype=torch.float32)
y_train = torch.tensor(df["target"].values, dtype=torch.float32)


# In[3]:


def attention(q, k, v):
    w = F.softmax(q @ k.transpose(-2, -1), dim=-1)
    return w @ v


def masked_attention(q, k, v, mask):
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    s = s.masked_fill(~mask[:, None, :], -np.inf)
    probs = torch.softmax(s, dim=-1)
    out = probs @ v
    probs = torch.nan_to_num(probs)
    return out, probs


def safe_masked_attention(q, k, v, mask):
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    s = s.masked_fill(~mask[:, None, :], -np.inf)
    probs = torch.softmax(s, dim=-1).masked_fill(~mask[:, None, :], 0.0)
    return probs @ v


class Net(nn.Module):
    def __init__(self, n_features, hidden):
        super().__init__()
        self.inp = nn.Linear(n_features, hidden)
        self.q = nn.Linear(hidden, hidden)
        self.k = nn.Linear(hidden, hidden)
        self.v = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, 1)

    def forward(self, x, mask):
        h = self.inp(x)
        q, k, v = self.q(h), self.k(h), self.v(h)
        h = h + attention(q / math.sqrt(q.shape[-1]), k, v)
        h = h + masked_attention(q, k, v, mask)[0]
        h = h + attention(q, k, v)
        h = h + safe_masked_attention(q, k, v, mask)
        return self.out(h).squeeze(-1)


def get_model(n_features=None):
    d = CONFIG["n_features"]
    if n_features:
        d = n_features
    return Net(d, CONFIG["hidden"])


# In[4]:


if len(X_train) > 0:
    n_feat = X_train.shape[-1]
else:
    n_feat = None
model = get_model(n_features=n_feat)
optimizer = torch.optim.Adam(model.parameters(), lr=CONFIG["lr"])
criterion = nn.MSELoss()


# In[5]:


seq = CONFIG["seq_len"]
xs = X_train[: len(X_train) // seq * seq].view(-1, seq, X_train.shape[-1])
ys = y_train[: len(y_train) // seq * seq].view(-1, seq)
mask = torch.ones(xs.shape[:2], dtype=torch.bool)
for epoch in range(CONFIG["epochs"]):
    for i in range(0, len(xs), 32):
        xb, yb, mb = xs[i : i + 32], ys[i : i + 32], mask[i : i + 32]
        out = model(xb, mb)
        loss = criterion(out, yb)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CONFIG["clip"])
        optimizer.step()
    print(epoch, loss.item())


# In[6]:


with torch.no_grad():
    preds = model(xs, mask)
    preds = torch.nan_to_num(preds)
print(np.corrcoef(preds.flatten().numpy(), ys.flatten().numpy())[0, 1])
