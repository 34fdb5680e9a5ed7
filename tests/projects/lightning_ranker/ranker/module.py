import math

import lightning as L
import torch
import torch.nn as nn
import torch.nn.functional as F

from ranker.losses import approx_ndcg, cosine_margin, listnet


class SetAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, mask):
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        logits = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)
        logits = logits.masked_fill(~mask[:, None, None, :], float("-inf"))
        attn = logits.softmax(dim=-1)
        out = attn @ v
        if torch.isnan(out).any():
            print("nan in attention output")
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class PooledSetAttention(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)

    def forward(self, x, mask):
        q, k, v = self.q(x), self.k(x), self.v(x)
        scores = torch.einsum("bid,bjd->bij", q, k) * x.shape[-1] ** -0.5
        scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
        weights = F.softmax(scores, dim=-1)
        weights = torch.nan_to_num(weights, nan=0.0)
        return torch.einsum("bij,bjd->bid", weights, v)


class Ranker(L.LightningModule):
    def __init__(self, stat_dim, hidden=64, heads=4, lr=1e-3, max_norm=1.0):
        super().__init__()
        self.save_hyperparameters()
        self.encoder = nn.Sequential(nn.Linear(stat_dim, hidden), nn.ReLU())
        self.attn = SetAttention(hidden, heads)
        self.pool = PooledSetAttention(hidden)
        self.head = nn.Linear(hidden, 1)
        self.automatic_optimization = False

    def forward(self, stats, mask):
        h = self.encoder(stats)
        h = self.attn(h, mask) + h
        h = self.pool(h, mask) + h
        return self.head(h).squeeze(-1)

    def training_step(self, batch, batch_idx):
        opt = self.optimizers()
        mask = torch.ones(batch["player_stats"].shape[:2], dtype=torch.bool, device=self.device)
        scores = self(batch["player_stats"], mask)
        loss = approx_ndcg(scores, batch["relevance"]) + listnet(scores, batch["relevance"])
        opt.zero_grad()
        self.manual_backward(loss)
        self.clip_gradients(opt, gradient_clip_val=self.hparams.max_norm)
        opt.step()
        self.log("train/loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        mask = torch.ones(batch["player_stats"].shape[:2], dtype=torch.bool, device=self.device)
        scores = self(batch["player_stats"], mask)
        self.log("val/listnet", listnet(scores, batch["relevance"]))
        emb = self.encoder(batch["player_stats"])
        self.log("val/spread", cosine_margin(emb[:, 0], emb[:, 1]))

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=self.hparams.lr)
