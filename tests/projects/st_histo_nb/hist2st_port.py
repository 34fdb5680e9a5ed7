#!/usr/bin/env python

# # Spot-level gene expression from H&E tiles
# Port of the JAX/flax reference implementation to PyTorch.

# In[1]:


import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from spot_utils import build_adjacency, fit_step, pearson_per_gene

CONFIG = {
    "in_features": 1536,
    "hidden": 256,
    "heads": 4,
    "n_genes": 250,
    "lr": 5e-4,
    "epochs": 80,
    "max_norm": 2.0,
}


# In[2]:


class SpotGraphAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.h = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.o = nn.Linear(d, d)

    def __call_heads(self, x):
        n, d = x.shape
        return x.view(n, self.h, d // self.h).transpose(0, 1)

    def forward(self, x, adj):
        q, k, v = (self.__call_heads(t) for t in self.qkv(x).chunk(3, -1))
        logits = torch.einsum("hqd,hkd->hqk", q, k) / math.sqrt(q.shape[-1])
        logits = torch.where(adj[None], logits, -float("inf"))
        w = torch.softmax(logits, dim=-1)
        out = torch.einsum("hqk,hkd->hqd", w, v).transpose(0, 1).reshape(x.shape)
        return x + self.o(out)


class GlobalMixer(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.q = nn.Linear(d, d)
        self.k = nn.Linear(d, d)
        self.v = nn.Linear(d, d)

    def forward(self, x):
        q = F.normalize(self.q(x), dim=-1)
        k = F.normalize(self.k(x), dim=-1)
        attn = (q @ k.T * 10.0).softmax(-1)
        return x + attn @ self.v(x)


class Hist2Expr(nn.Module):
    def __init__(self, in_features, hidden, heads, n_genes):
        super().__init__()
        self.inp = nn.Linear(in_features, hidden)
        self.graph = SpotGraphAttention(hidden, heads)
        self.mix = GlobalMixer(hidden)
        self.head = nn.Linear(hidden, n_genes)

    def forward(self, feats, adj):
        h = F.gelu(self.inp(feats))
        return self.head(self.mix(self.graph(h, adj)))


# In[3]:


slides = torch.load("embeddings/uni_tiles.pt")
X, Y, coords = slides["feats"], slides["counts"], slides["coords"]
Y = torch.log1p(Y)
X = torch.nan_to_num(X)
print(X.shape, Y.shape)
CONFIG["in_features"] = X.shape[-1]
adj = build_adjacency(coords)
train_idx = torch.rand(X.shape[0]) < 0.8


# In[4]:


model = Hist2Expr(CONFIG["in_features"], CONFIG["hidden"], CONFIG["heads"], CONFIG["n_genes"])
opt = torch.optim.Adam(model.parameters(), lr=CONFIG["lr"])
for epoch in range(CONFIG["epochs"]):
    model.train()
    pred = model(X, adj)
    loss = F.mse_loss(pred[train_idx], Y[train_idx])
    fit_step(model, opt, loss, CONFIG["max_norm"])
    if epoch % 10 == 0:
        with torch.no_grad():
            pred = model(X, adj).clamp(min=0)
        r = pearson_per_gene(pred[~train_idx].numpy(), Y[~train_idx].numpy())
        print(epoch, loss.item(), np.median(r))
