#!/usr/bin/env python

# # Set transformer for counting object instances from proposal features

# In[1]:


import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange, repeat

from jax_port import dot_product_attention, make_padding_bias

CONFIG = {"proposal_dim": 256, "d_model": 128, "heads": 4, "n_seeds": 4, "lr": 3e-4, "epochs": 40}


# In[2]:


class MAB(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.scale = (d // heads) ** -0.5
        self.to_q, self.to_kv = nn.Linear(d, d), nn.Linear(d, 2 * d)
        self.ff = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, d))

    def forward(self, x, y, keep):
        q = rearrange(self.to_q(x), "b n (h d) -> b n h d", h=self.heads)
        k, v = (
            rearrange(t, "b m (h d) -> b m h d", h=self.heads) for t in self.to_kv(y).chunk(2, -1)
        )
        o = dot_product_attention(q * self.scale, k, v, make_padding_bias(keep))
        h = x + rearrange(o, "b n h d -> b n (h d)")
        return h + self.ff(h)


class PMA(nn.Module):
    def __init__(self, d, heads, n_seeds):
        super().__init__()
        self.heads = heads
        self.seeds = nn.Parameter(torch.randn(n_seeds, d) / math.sqrt(d))
        self.to_k, self.to_v = nn.Linear(d, d), nn.Linear(d, d)

    def forward(self, x, keep):
        s = repeat(self.seeds, "s d -> b s h d", b=x.size(0), h=1)
        s = rearrange(s, "b s h d -> b s h d")
        k = rearrange(self.to_k(x), "b m (h d) -> b m h d", h=1)
        v = rearrange(self.to_v(x), "b m (h d) -> b m h d", h=1)
        return rearrange(dot_product_attention(s, k, v), "b s h d -> b (s h d)")


class SetCounter(nn.Module):
    def __init__(self, proposal_dim, d_model, heads, n_seeds):
        super().__init__()
        self.inp = nn.Linear(proposal_dim, d_model)
        self.enc = nn.ModuleList([MAB(d_model, heads), MAB(d_model, heads)])
        self.pma = PMA(d_model, heads, n_seeds)
        self.gate_q = nn.Linear(d_model, d_model)
        self.head = nn.Linear(n_seeds * d_model + d_model, 1)

    def forward(self, props, keep):
        h = self.inp(props)
        for mab in self.enc:
            h = mab(h, h, keep)
        g = torch.einsum("bd,bmd->bm", self.gate_q(h.mean(1)), h) / math.sqrt(h.size(-1))
        g = g.masked_fill(~keep, -math.inf).softmax(-1)
        gated = torch.einsum("bm,bmd->bd", g, h)
        log_rate = self.head(torch.cat([self.pma(h, keep), gated], -1)).squeeze(-1)
        return log_rate


# In[3]:


train_props, train_keep, train_counts = torch.load("proposals_train.pt")
model = SetCounter(
    train_props.shape[-1], CONFIG["d_model"], CONFIG["heads"], CONFIG["n_seeds"]
).cuda()
opt = torch.optim.Adam(model.parameters(), lr=CONFIG["lr"])
ds = torch.utils.data.TensorDataset(train_props, train_keep, train_counts)
loader = torch.utils.data.DataLoader(ds, batch_size=64, shuffle=True)


# In[4]:


history = []
for epoch in range(CONFIG["epochs"]):
    for props, keep, counts in loader:
        props, keep, counts = props.cuda(), keep.cuda(), counts.cuda().float()
        log_rate = model(props, keep)
        loss = F.poisson_nll_loss(log_rate, counts, log_input=True)
        opt.zero_grad()
        loss.backward()
        history.append(torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0).item())
        opt.step()
    pred_count = log_rate.exp().clamp(min=0).round()
    print(
        epoch, loss.item(), (pred_count - counts).abs().mean().item(), max(history[-len(loader) :])
    )
