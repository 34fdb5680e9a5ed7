import math

import lightning as L
import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import einsum


class TempAttention(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.to_q = nn.Linear(dim, dim)
        self.to_k = nn.Linear(dim, dim)
        self.temperature = math.sqrt(dim)

    def forward(self, x, mask):
        q, k = self.to_q(x), self.to_k(x)
        attn = q @ k.transpose(-1, -2)
        attn = attn / self.temperature
        mask_value = -float("inf")
        attn.masked_fill_(~mask[:, None, :], mask_value)
        attn = attn.softmax(dim=-1)
        return attn @ x


class FinfoAttention(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.to_q = nn.Linear(dim, dim)
        self.to_k = nn.Linear(dim, dim)
        self.scale = dim**-0.5

    def forward(self, x, mask):
        q, k = self.to_q(x), self.to_k(x)
        sim = einsum(q, k, "b i d, b j d -> b i j") * self.scale
        sim.masked_fill_(~mask[:, None, :], -torch.finfo(sim.dtype).max)
        return sim.softmax(dim=-1) @ x


class Classifier(L.LightningModule):
    def __init__(self, dim=64, n_cls=10):
        super().__init__()
        self.a = TempAttention(dim)
        self.b = FinfoAttention(dim)
        self.head = nn.Linear(dim, n_cls)
        self.automatic_optimization = False

    def forward(self, x, mask):
        return self.head((self.a(x, mask) + self.b(x, mask)).mean(1))

    def training_step(self, batch, batch_idx):
        opt = self.optimizers()
        x, mask, y = batch
        logits = self(x, mask)
        logits = logits.clip(-15, 15)
        loss = F.cross_entropy(logits, y)
        opt.zero_grad()
        self.manual_backward(loss)
        self.clip_gradients(opt, gradient_clip_val=1.0, gradient_clip_algorithm="norm")
        opt.step()
        return loss

    def on_before_optimizer_step(self, optimizer):
        torch.nn.utils.clip_grad_norm_(self.parameters(), 5.0)

    def validation_step(self, batch, batch_idx):
        x, mask, y = batch
        probs = self(x, mask).softmax(-1).clamp(min=1e-6)
        self.log("val_nll", F.nll_loss(probs.log(), y))

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=1e-3)
