import argparse
import pickle

import numpy as np
import torch
from model import DecisionTransformer
from trainer import SequenceTrainer


def experiment(variant):
    with open(f"data/{variant['env']}-{variant['dataset']}-v2.pkl", "rb") as f:
        trajectories = pickle.load(f)
    states = np.concatenate([path["observations"] for path in trajectories], axis=0)
    state_mean, state_std = np.mean(states, axis=0), np.std(states, axis=0) + 1e-6
    state_dim = variant["state_dim"]
    act_dim = variant["act_dim"]
    K = variant["K"]

    def get_batch(batch_size):
        idx = np.random.choice(len(trajectories), size=batch_size)
        s, a, r, ts, mask = [], [], [], [], []
        for i in idx:
            traj = trajectories[i]
            si = np.random.randint(0, traj["rewards"].shape[0] - 1)
            obs = (traj["observations"][si : si + K] - state_mean) / state_std
            tlen = obs.shape[0]
            pad = K - tlen
            s.append(np.concatenate([np.zeros((pad, state_dim)), obs]))
            a.append(
                np.concatenate([np.ones((pad, act_dim)) * -10.0, traj["actions"][si : si + K]])
            )
            rtg = np.cumsum(traj["rewards"][si:][::-1])[::-1][: tlen + 1] / 1000.0
            rtg = np.concatenate([rtg, np.zeros(max(0, tlen + 1 - len(rtg)))])
            r.append(np.concatenate([np.zeros(pad), rtg])[: K + 1, None])
            ts.append(np.concatenate([np.zeros(pad), np.arange(si, si + tlen)]))
            mask.append(np.concatenate([np.zeros(pad), np.ones(tlen)]))
        as_t = lambda xs, dt=torch.float32: torch.from_numpy(np.stack(xs)).to(dt)
        return as_t(s), as_t(a), as_t(r), as_t(ts, torch.long), as_t(mask)

    model = DecisionTransformer(
        state_dim=state_dim, act_dim=act_dim, hidden_size=variant["embed_dim"], max_length=K
    )
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=variant["learning_rate"], weight_decay=1e-4
    )
    trainer = SequenceTrainer(model, optimizer, variant["batch_size"], get_batch)
    for it in range(variant["max_iters"]):
        print(it, trainer.train_iteration(variant["num_steps_per_iter"]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--env", default="hopper")
    parser.add_argument("--dataset", default="medium")
    parser.add_argument("--state_dim", type=int, default=11)
    parser.add_argument("--act_dim", type=int, default=3)
    parser.add_argument("--K", type=int, default=20)
    parser.add_argument("--embed_dim", type=int, default=128)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--learning_rate", type=float, default=1e-4)
    parser.add_argument("--max_iters", type=int, default=10)
    parser.add_argument("--num_steps_per_iter", type=int, default=10000)
    experiment(vars(parser.parse_args()))
