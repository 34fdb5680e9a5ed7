#!/usr/bin/env python

# # Retrieval-augmented house price regression
# Exported from `tabret.ipynb`.

# In[1]:


import numpy as np
import pandas as pd
import torch
import torch.nn as nn
from retrieval import FeatureAttention, RetrievalBlock, huber

torch.manual_seed(0)
CONFIG = {
    "n_features": 79,
    "d_main": 128,
    "d_key": 64,
    "heads": 4,
    "n_candidates": 96,
    "lr": 3e-4,
    "epochs": 40,
    "batch_size": 256,
}


# In[2]:


df = pd.read_parquet("data/houses.parquet")
y_all = np.log1p(df.pop("SalePrice").to_numpy(np.float32))
hood_all = df.pop("Neighborhood").astype("category").cat.codes.to_numpy()
X_all = df.to_numpy(np.float32)
missing_all = np.isnan(X_all)
X_all = np.nan_to_num(X_all, nan=0.0)
mu, sd = X_all.mean(0), X_all.std(0) + 1e-6
X_all = (X_all - mu) / sd
perm = np.random.permutation(len(X_all))
tr, va = perm[: int(0.85 * len(perm))], perm[int(0.85 * len(perm)) :]
X_train, y_train, M_train, H_train = map(
    torch.from_numpy, (X_all[tr], y_all[tr], missing_all[tr], hood_all[tr])
)
X_val, y_val, M_val, H_val = map(
    torch.from_numpy, (X_all[va], y_all[va], missing_all[va], hood_all[va])
)


# In[3]:


class TabRet(nn.Module):
    def __init__(self, n_features, d_main, d_key, heads, n_candidates):
        super().__init__()
        self.feat_embed = nn.Parameter(torch.randn(n_features, d_main) * 0.02)
        self.feat_bias = nn.Parameter(torch.zeros(n_features, d_main))
        self.feature_attn = FeatureAttention(d_main, heads)
        self.encode = nn.Sequential(nn.Linear(d_main, d_main), nn.ReLU(), nn.LayerNorm(d_main))
        self.retrieve = RetrievalBlock(d_main, d_key, n_candidates)
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(d_main, 1))

    def embed(self, x, missing):
        tokens = x[..., None] * self.feat_embed + self.feat_bias
        return self.encode(self.feature_attn(tokens, missing).mean(1))

    def forward(self, x, missing, cand_x, cand_missing, cand_y, excluded):
        h = self.embed(x, missing)
        ch = self.embed(cand_x.flatten(0, 1), cand_missing.flatten(0, 1)).view(
            *cand_x.shape[:2], -1
        )
        return self.head(h + self.retrieve(h, ch, cand_y, excluded)).squeeze(-1)


def get_model(n_features=None):
    d = n_features or CONFIG["n_features"]
    return TabRet(d, CONFIG["d_main"], CONFIG["d_key"], CONFIG["heads"], CONFIG["n_candidates"])


# In[4]:


n_feat = X_train.shape[1] if len(X_train) else None
model = get_model(n_features=n_feat)
opt = torch.optim.AdamW(model.parameters(), lr=CONFIG["lr"], weight_decay=1e-5)


def sample_candidates(idx, hood, k):
    cand = torch.randint(0, len(X_train), (len(idx), k))
    excluded = (cand == idx[:, None]) | (H_train[cand] != hood[:, None])
    return cand, excluded


# In[5]:


history = []
Y_MIN, Y_MAX = float(y_train.min()), float(y_train.max())
for epoch in range(CONFIG["epochs"]):
    model.train()
    for idx in torch.randperm(len(X_train)).split(CONFIG["batch_size"]):
        cand, excluded = sample_candidates(idx, H_train[idx], CONFIG["n_candidates"])
        preds = model(
            X_train[idx], M_train[idx], X_train[cand], M_train[cand], y_train[cand], excluded
        )
        preds = preds.clamp(Y_MIN, Y_MAX)
        loss = huber(preds, y_train[idx])
        opt.zero_grad()
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        history.append((loss.item(), gn.item()))
    print(
        f"epoch {epoch}: loss {np.mean([h[0] for h in history[-20:]]):.4f} grad_norm {history[-1][1]:.2f}"
    )


# In[6]:


model.eval()
with torch.no_grad():
    cand, excluded = sample_candidates(torch.full((len(X_val),), -1), H_val, CONFIG["n_candidates"])
    val_preds = model(
        X_val, M_val, X_train[cand], M_train[cand], y_train[cand], excluded
    ).nan_to_num()
rmse = ((val_preds - y_val) ** 2).mean().sqrt().item()
print(f"val RMSE (log1p): {rmse:.4f}")
