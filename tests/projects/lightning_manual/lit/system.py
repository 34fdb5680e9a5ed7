import lightning.pytorch as pl
import torch
import torch.nn as nn
import torch.nn.functional as F

from lit.attention import multihead, padded_pool


class Ranker(nn.Module):
    def __init__(self, in_features, hidden, heads=4):
        super().__init__()
        self.heads = heads
        self.inp = nn.Linear(in_features, hidden)
        self.q = nn.Linear(hidden, hidden)
        self.kv = nn.Linear(hidden, 2 * hidden)
        self.score = nn.Linear(hidden, 1)
        self.pool_score = nn.Linear(hidden, 1)

    def split(self, t):
        b, n, d = t.shape
        return t.view(b, n, self.heads, d // self.heads).transpose(1, 2)

    def forward(self, x, key_mask, lengths):
        h = self.inp(x)
        d_head = h.shape[-1] // self.heads
        q = self.split(self.q(h)) * d_head**-0.5
        k, v = (self.split(t) for t in self.kv(h).chunk(2, -1))
        a = multihead(q, k, v, key_mask)
        h = h + a.transpose(1, 2).flatten(2)
        w = padded_pool(self.pool_score(h).squeeze(-1), lengths)
        return self.score(h).squeeze(-1) + (w.unsqueeze(-1) * h).sum(1).mean(-1, keepdim=True)


class RankSystem(pl.LightningModule):
    def __init__(self, model_cfg, lr):
        super().__init__()
        self.model = Ranker(**model_cfg)
        self.lr = lr
        self.automatic_optimization = False

    def training_step(self, batch, batch_idx):
        opt = self.optimizers()
        scores = self.model(batch["x"], batch["key_mask"], batch["lengths"])
        loss = F.binary_cross_entropy_with_logits(scores, batch["y"])
        opt.zero_grad()
        self.manual_backward(torch.nan_to_num(loss, nan=0.0))
        norm = torch.nn.utils.clip_grad_norm_(self.parameters(), 1.0)
        self.log("grad_norm", norm)
        opt.step()

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)
