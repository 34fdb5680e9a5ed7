import time

import torch


class SequenceTrainer:
    def __init__(self, model, optimizer, batch_size, get_batch, scheduler=None):
        self.model = model
        self.optimizer = optimizer
        self.batch_size = batch_size
        self.get_batch = get_batch
        self.scheduler = scheduler
        self.diagnostics = {}

    def train_step(self):
        states, actions, rtg, timesteps, attention_mask = self.get_batch(self.batch_size)
        action_target = torch.clone(actions)
        action_preds = self.model(
            states, actions, rtg[:, :-1], timesteps, attention_mask=attention_mask
        )
        act_dim = action_preds.shape[2]
        action_preds = action_preds.reshape(-1, act_dim)[attention_mask.reshape(-1) > 0]
        action_target = action_target.reshape(-1, act_dim)[attention_mask.reshape(-1) > 0]
        loss = torch.mean((action_preds - action_target) ** 2)
        self.optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 0.25)
        self.optimizer.step()
        return loss.detach().cpu().item()

    def train_iteration(self, num_steps):
        start = time.time()
        self.model.train()
        losses = [self.train_step() for _ in range(num_steps)]
        if self.scheduler is not None:
            self.scheduler.step()
        self.diagnostics["time/training"] = time.time() - start
        self.diagnostics["training/train_loss_mean"] = sum(losses) / len(losses)
        return self.diagnostics


def evaluate_episode(
    env, model, state_mean, state_std, target_return, max_ep_len=1000, scale=1000.0
):
    state = env.reset()
    states = torch.from_numpy((state - state_mean) / state_std).reshape(1, -1).float()
    actions = torch.zeros((0, model.act_dim))
    rtg = torch.tensor([[target_return / scale]])
    timesteps = torch.zeros((1, 1), dtype=torch.long)
    episode_return = 0.0
    for t in range(max_ep_len):
        actions = torch.cat([actions, torch.zeros((1, model.act_dim))], dim=0)
        action = model.get_action(states, actions, rtg, timesteps)
        action = action.clamp(-1.0, 1.0)
        actions[-1] = action
        state, reward, done, _ = env.step(action.numpy())
        cur = torch.from_numpy((state - state_mean) / state_std).reshape(1, -1).float()
        states = torch.cat([states, cur], dim=0)
        rtg = torch.cat([rtg, (rtg[0, -1] - reward / scale).reshape(1, 1)], dim=1)
        timesteps = torch.cat([timesteps, torch.ones((1, 1), dtype=torch.long) * (t + 1)], dim=1)
        episode_return += reward
        if done:
            break
    return episode_return
