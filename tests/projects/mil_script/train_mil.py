"""Attention-MIL baseline: bags of instance features, one label per bag."""

import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
import yaml

with open(os.environ.get("CFG", "mil.yaml")) as fh:
    cfg = yaml.safe_load(fh)


class GatedAttentionPool(nn.Module):
    def __init__(self, in_dim, hid):
        super().__init__()
        self.V = nn.Linear(in_dim, hid)
        self.U = nn.Linear(in_dim, hid)
        self.w = nn.Linear(hid, 1)

    def forward(self, h, bag_mask):
        a = self.w(torch.tanh(self.V(h)) * torch.sigmoid(self.U(h))).squeeze(-1)
        a = a.masked_fill(~bag_mask, float("-inf"))
        a = torch.softmax(a, dim=1)
        a = torch.nan_to_num(a)
        return torch.bmm(a.unsqueeze(1), h).squeeze(1)


class TransMIL(nn.Module):
    def __init__(self, in_dim, hid, n_cls):
        super().__init__()
        self.fc = nn.Linear(in_dim, hid)
        self.qkv = nn.Linear(hid, 3 * hid)
        self.pool = GatedAttentionPool(hid, hid // 2)
        self.cls = nn.Linear(hid, n_cls)

    def forward(self, x, bag_mask):
        h = F.relu(self.fc(x))
        q, k, v = self.qkv(h).chunk(3, dim=-1)
        att = torch.matmul(q, k.transpose(1, 2)) * (1.0 / math.sqrt(q.size(-1)))
        att = att.masked_fill(~bag_mask[:, None, :], float("-inf"))
        att = att.softmax(-1)
        h = h + att @ v
        return self.cls(self.pool(h, bag_mask))


def get_loader():
    bags = torch.load(cfg["data"]["bags"])
    return torch.utils.data.DataLoader(bags, batch_size=cfg["train"]["bs"], shuffle=True)


loader = get_loader()
example = next(iter(loader))
feat_dim = example["x"].shape[-1]
cfg["model"]["in_dim"] = feat_dim
model = TransMIL(cfg["model"]["in_dim"], cfg["model"]["hid"], cfg["model"]["n_cls"])
opt = torch.optim.AdamW(model.parameters(), lr=cfg["train"]["lr"], weight_decay=1e-4)

for epoch in range(cfg["train"]["epochs"]):
    for batch in loader:
        logits = model(batch["x"], batch["mask"])
        logits = logits.clamp(-30, 30)
        loss = F.cross_entropy(logits, batch["y"])
        opt.zero_grad()
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["train"]["clip"])
        opt.step()
    print(f"epoch {epoch}: {loss.item():.3f}")
