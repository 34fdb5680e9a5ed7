import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from utils import masked_softmax, masked_softmax_safe, optimizer_step, self_attention


class Model(nn.Module):
    def __init__(self, input_dim, hidden):
        super().__init__()
        self.inp = nn.Linear(input_dim, hidden)
        self.wq = nn.Parameter(torch.randn(hidden, hidden) * 0.02)
        self.wk = nn.Parameter(torch.randn(hidden, hidden) * 0.02)
        self.wv = nn.Parameter(torch.randn(hidden, hidden) * 0.02)
        self.out = nn.Linear(hidden, 1)

    def forward(self, x, mask):
        h = self.inp(x)
        h = h + self_attention(h, self.wq, self.wk, self.wv)
        gate = masked_softmax(self.out(h).squeeze(-1), mask)
        gate2 = masked_softmax_safe(self.out(h).squeeze(-1), mask)
        return self.out(h).squeeze(-1) * (gate + gate2)


def get_model(args, input_dim=None):
    input_dim = input_dim or args.input_dim
    return Model(input_dim, args.hidden)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--input_dim", type=int, default=12)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--lr", type=float, default=1e-3)
    args = p.parse_args()
    X = torch.from_numpy(np.load("x.npy")).float()
    Y = torch.from_numpy(np.load("y.npy")).float()
    model = get_model(args, input_dim=X.shape[-1])
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    mask = torch.ones(X.shape[:2], dtype=torch.bool)
    for epoch in range(10):
        pred = model(X, mask)
        loss = F.mse_loss(pred, Y)
        loss.backward()
        optimizer_step(opt, model, args.clip)
        print(epoch, loss.item())


if __name__ == "__main__":
    main()
