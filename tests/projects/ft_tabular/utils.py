import numpy as np
import pandas as pd
import torch


def load_split(path, split, target="income"):
    df = pd.read_parquet(path)
    df = df[df["split"] == split]
    num_cols = [c for c in df.columns if c.startswith("num_")]
    cat_cols = [c for c in df.columns if c.startswith("cat_")]
    x_num = np.nan_to_num(df[num_cols].to_numpy(np.float32))
    x_num = (x_num - x_num.mean(0)) / (x_num.std(0) + 1e-6)
    x_cat = df[cat_cols].to_numpy(np.int64)
    y = df[target].to_numpy(np.float32)
    return torch.from_numpy(x_num), torch.from_numpy(x_cat), torch.from_numpy(y)


def optimizer_step(model, optimizer, max_norm, scaler=None):
    """Unscale, clip, step, zero: one place for the whole update."""
    if scaler is not None:
        scaler.unscale_(optimizer)
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return norm.item()
