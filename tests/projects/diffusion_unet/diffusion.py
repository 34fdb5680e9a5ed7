import torch
import torch.nn as nn
import torch.nn.functional as F


class GaussianDiffusion(nn.Module):
    def __init__(self, model, timesteps=1000):
        super().__init__()
        self.model = model
        betas = torch.linspace(1e-4, 0.02, timesteps)
        self.register_buffer("alphas_cumprod", torch.cumprod(1 - betas, 0))

    def q_sample(self, x_start, t, noise):
        a = self.alphas_cumprod[t].sqrt()[:, None, None, None]
        return a * x_start + (1 - a**2).sqrt() * noise

    def p_losses(self, x_start, t):
        noise = torch.randn_like(x_start)
        x_noisy = self.q_sample(x_start, t, noise)
        noise_pred = self.model(x_noisy, t)
        noise_pred = noise_pred.clamp(-3.0, 3.0)
        return F.mse_loss(noise_pred, noise)

    @torch.no_grad()
    def p_sample(self, x, t):
        eps = self.model(x, t)
        a = self.alphas_cumprod[t].sqrt()[:, None, None, None]
        x_recon = ((x - (1 - a**2).sqrt() * eps) / a).clamp_(-1.0, 1.0)
        return x_recon

    def forward(self, x):
        t = torch.randint(0, len(self.alphas_cumprod), (x.shape[0],), device=x.device)
        return self.p_losses(x, t)
