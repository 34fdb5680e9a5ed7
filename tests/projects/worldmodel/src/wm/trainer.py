import logging
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .losses import kl_balance, symlog_mse
from .model import TransformerWorldModel

log = logging.getLogger(__name__)


@dataclass
class WMConfig:
    obs_dim: int = 64
    action_dim: int = 6
    d_model: int = 256
    lr: float = 3e-4
    max_grad_norm: float = 100.0
    log_every: int = 100


class WorldModelTrainer:
    def __init__(self, cfg: WMConfig, replay, device="cuda"):
        self.cfg = cfg
        self.replay = replay
        self.device = device
        self.model = TransformerWorldModel(cfg.obs_dim, cfg.action_dim, d_model=cfg.d_model).to(
            device
        )
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr)
        self.step = 0

    def _check_batch(self, obs):
        if obs.shape[-1] != self.cfg.obs_dim:
            raise ValueError(
                f"replay obs width {obs.shape[-1]} != configured obs_dim {self.cfg.obs_dim}"
            )

    def _clip(self):
        return torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.max_grad_norm)

    def _losses(self, batch):
        obs = torch.nan_to_num(batch["obs"].to(self.device))
        act = F.one_hot(batch["action"].to(self.device), self.cfg.action_dim).float()
        self._check_batch(obs)
        out = self.model(obs, act)
        rew = symlog_mse(out["reward"], batch["reward"].to(self.device))
        cont = F.binary_cross_entropy_with_logits(out["cont"], batch["cont"].to(self.device))
        recon = F.mse_loss(out["recon"], obs)
        dyn = kl_balance(out["post"], out["prior"])
        return {"reward": rew, "cont": cont, "recon": recon, "dyn": dyn}

    def train_step(self, batch):
        self.model.train()
        parts = self._losses(batch)
        loss = sum(parts.values())
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self._clip()
        self.opt.step()
        self.step += 1
        if self.step % self.cfg.log_every == 0:
            log.info(
                "step %d " + " ".join(f"{k}=%.4f" for k in parts),
                self.step,
                *[v.item() for v in parts.values()],
            )
        return loss.detach()

    def fit(self, n_steps):
        for _ in range(n_steps):
            self.train_step(self.replay.sample(16, 64))
