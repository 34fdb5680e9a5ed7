import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset


class PlayerSets(Dataset):
    def __init__(self, frame, n_items):
        self.frame = frame
        self.n_items = n_items

    def __len__(self):
        return len(self.frame) // self.n_items

    def __getitem__(self, idx):
        rows = self.frame[idx * self.n_items : (idx + 1) * self.n_items]
        stats = torch.tensor(rows[:, :-1], dtype=torch.float32)
        rel = torch.tensor(rows[:, -1], dtype=torch.float32)
        return {"player_stats": stats, "relevance": rel}


class RankingDataModule(L.LightningDataModule):
    def __init__(self, frame, n_items=10, batch_size=32):
        super().__init__()
        self.frame = frame
        self.n_items = n_items
        self.batch_size = batch_size

    def setup(self, stage=None):
        self.train_set = PlayerSets(self.frame, self.n_items)

    def train_dataloader(self):
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True)
