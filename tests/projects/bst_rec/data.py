import pandas as pd
import torch
from torch.utils.data import Dataset


class ClickLogDataset(Dataset):
    def __init__(self, path, max_len=20):
        self.df = pd.read_parquet(path)
        self.max_len = max_len
        self.user_cols = [c for c in self.df.columns if c.startswith("u_")]
        self.ctx_cols = [c for c in self.df.columns if c.startswith("c_")]

    def __len__(self):
        return len(self.df)

    def __getitem__(self, i):
        row = self.df.iloc[i]
        hist = list(row["history"])[-self.max_len :]
        hist = [0] * (self.max_len - len(hist)) + hist
        return {
            "hist": torch.tensor(hist, dtype=torch.long),
            "target": torch.tensor(row["item"], dtype=torch.long),
            "user": torch.tensor(row[self.user_cols].to_numpy(dtype="float32")),
            "ctx": torch.tensor(row[self.ctx_cols].to_numpy(dtype="float32")),
            "label": torch.tensor(float(row["click"])),
        }
