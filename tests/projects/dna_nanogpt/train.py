import math
import os
import time

import numpy as np
import torch
from model import DNAClassifier, DNAConfig

out_dir = "out-promoters"
eval_interval = 250
eval_iters = 50
log_interval = 10
dataset = "promoters"
batch_size = 64
in_channels = 5
n_layer = 4
n_head = 4
n_embd = 128
dropout = 0.1
learning_rate = 3e-4
max_iters = 5000
weight_decay = 0.05
grad_clip = 1.0
warmup_iters = 200
device = "cuda" if torch.cuda.is_available() else "cpu"
config_keys = [
    k
    for k, v in globals().items()
    if not k.startswith("_") and isinstance(v, (int, float, bool, str))
]
exec(open("configurator.py").read())  # noqa: SIM115
config = {k: globals()[k] for k in config_keys}

os.makedirs(out_dir, exist_ok=True)
torch.manual_seed(1337)
data_dir = os.path.join("data", dataset)
train_x = np.load(os.path.join(data_dir, "train_onehot.npy"), mmap_mode="r")
train_len = np.load(os.path.join(data_dir, "train_len.npy"))
train_y = np.load(os.path.join(data_dir, "train_y.npy"))
val_x = np.load(os.path.join(data_dir, "val_onehot.npy"), mmap_mode="r")
val_len = np.load(os.path.join(data_dir, "val_len.npy"))
val_y = np.load(os.path.join(data_dir, "val_y.npy"))


def get_batch(split):
    xs, ls, ys = (train_x, train_len, train_y) if split == "train" else (val_x, val_len, val_y)
    ix = np.random.randint(0, len(ys), batch_size)
    x = torch.from_numpy(np.stack([xs[i] for i in ix]).astype(np.float32))
    lengths = torch.from_numpy(ls[ix])
    pad = torch.arange(x.size(1))[None, :] >= lengths[:, None]
    y = torch.from_numpy(ys[ix].astype(np.int64))
    return x.to(device), pad.to(device), y.to(device)


model_args = dict(
    in_channels=in_channels,
    n_layer=n_layer,
    n_head=n_head,
    n_embd=n_embd,
    n_classes=2,
    dropout=dropout,
)
dnaconf = DNAConfig(**model_args)
model = DNAClassifier(dnaconf)
model.to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)


def get_lr(it):
    if it < warmup_iters:
        return learning_rate * it / warmup_iters
    ratio = (it - warmup_iters) / (max_iters - warmup_iters)
    return learning_rate * 0.5 * (1.0 + math.cos(math.pi * ratio))


@torch.no_grad()
def estimate_metrics():
    out = {}
    model.eval()
    for split in ["train", "val"]:
        losses, accs = torch.zeros(eval_iters), torch.zeros(eval_iters)
        for j in range(eval_iters):
            X, P, Y = get_batch(split)
            logits, loss = model(X, P, Y)
            losses[j] = loss.item()
            accs[j] = (logits.nan_to_num().argmax(-1) == Y).float().mean()
        out[split] = (losses.mean().item(), accs.mean().item())
    model.train()
    return out


X, P, Y = get_batch("train")
t0 = time.time()
for iter_num in range(max_iters):
    lr = get_lr(iter_num)
    for param_group in optimizer.param_groups:
        param_group["lr"] = lr
    if iter_num % eval_interval == 0:
        m = estimate_metrics()
        print(
            f"step {iter_num}: train loss {m['train'][0]:.4f}, val loss {m['val'][0]:.4f}, val acc {m['val'][1]:.3f}"
        )
        torch.save(
            {"model": model.state_dict(), "config": config}, os.path.join(out_dir, "ckpt.pt")
        )
    logits, loss = model(X, P, Y)
    X, P, Y = get_batch("train")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip != 0.0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    if iter_num % log_interval == 0:
        dt = time.time() - t0
        t0 = time.time()
        print(f"iter {iter_num}: loss {loss.item():.4f}, time {dt * 1000:.2f}ms")
