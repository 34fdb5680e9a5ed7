import argparse

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from model import TabTransformer
from torch.utils.data import DataLoader, TensorDataset

parser = argparse.ArgumentParser()
parser.add_argument("--num_features", type=int, default=30)
parser.add_argument("--num_classes", type=int, default=2)
parser.add_argument("--lr", type=float, default=3e-4)
parser.add_argument("--clip", type=float, default=1.0)
parser.add_argument("--epochs", type=int, default=5)
args = parser.parse_args()

df = pd.read_parquet("train.parquet")
X = torch.tensor(df.drop(columns="y").to_numpy(np.float32))
y = torch.tensor(df["y"].to_numpy())
print("features in config:", args.num_features)

accelerator = Accelerator()
model = TabTransformer(X.shape[1], args.num_classes)
opt = torch.optim.AdamW(model.parameters(), lr=args.lr)
loader = DataLoader(TensorDataset(X, y), batch_size=256, shuffle=True)
model, opt, loader = accelerator.prepare(model, opt, loader)

for epoch in range(args.epochs):
    for xb, yb in loader:
        mask = torch.ones_like(xb, dtype=torch.bool)
        logits = model(xb, mask)
        loss = F.cross_entropy(logits, yb)
        loss = torch.nan_to_num(loss)
        accelerator.backward(loss)
        grad_norm = accelerator.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        opt.zero_grad()
    probs = logits.softmax(-1).clamp(1e-6, 1 - 1e-6)
    accelerator.print(epoch, loss.item(), (-(probs.log())).mean().item())
