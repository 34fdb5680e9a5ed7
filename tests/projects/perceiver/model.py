import torch
import torch.nn as nn
from blocks import CosineLatentAttention, CrossAttention, LatentSelfAttention


class Perceiver(nn.Module):
    def __init__(
        self, input_dim, num_latents=256, latent_dim=512, depth=6, num_classes=10, cosine=False
    ):
        super().__init__()
        self.latents = nn.Parameter(torch.randn(num_latents, latent_dim) * 0.02)
        self.cross = CrossAttention(latent_dim, input_dim)
        Self = CosineLatentAttention if cosine else LatentSelfAttention
        self.layers = nn.ModuleList(Self(latent_dim) for _ in range(depth))
        self.norm = nn.LayerNorm(latent_dim)
        self.head = nn.Linear(latent_dim, num_classes)

    def forward(self, data, mask=None):
        x = self.latents.expand(data.shape[0], -1, -1)
        x = x + self.cross(x, data, mask)
        for layer in self.layers:
            x = x + layer(self.norm(x))
        return self.head(x.mean(1))
