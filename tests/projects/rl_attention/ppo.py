import torch
import torch.nn as nn
from policy import Policy
from torch.distributions import Categorical


class PPO:
    def __init__(self, obs_dim, n_actions, clip_eps=0.2, max_grad_norm=0.5):
        self.policy = Policy(obs_dim, n_actions)
        self.opt = torch.optim.Adam(self.policy.parameters(), lr=3e-4)
        self.clip_eps = clip_eps
        self.max_grad_norm = max_grad_norm

    def update(self, rollout):
        stats = {}
        for mb in rollout.minibatches(4):
            logits, values = self.policy(mb.obs, mb.entities, mb.visible, mb.legal)
            logits = logits.clamp(-20.0, 20.0)
            dist = Categorical(logits=logits)
            logp = dist.log_prob(mb.actions)
            ratio = torch.exp(logp - mb.old_logp)
            clipped = torch.clamp(ratio, 1 - self.clip_eps, 1 + self.clip_eps)
            pg_loss = -torch.min(ratio * mb.adv, clipped * mb.adv).mean()
            v_clipped = mb.old_values + (values - mb.old_values).clamp(
                -self.clip_eps, self.clip_eps
            )
            v_loss = torch.max((values - mb.returns) ** 2, (v_clipped - mb.returns) ** 2).mean()
            loss = pg_loss + 0.5 * v_loss - 0.01 * dist.entropy().mean()
            self.opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
            self.opt.step()
            stats["loss"] = loss.item()
        return stats

    def update_logged(self, rollout):
        for mb in rollout.minibatches(4):
            logits, _values = self.policy(mb.obs, mb.entities, mb.visible, mb.legal)
            loss = -Categorical(logits=logits).log_prob(mb.actions).mul(mb.adv).mean()
            self.opt.zero_grad()
            loss.backward()
            gn = nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
            rollout.log("grad_norm", gn)
            self.opt.step()
