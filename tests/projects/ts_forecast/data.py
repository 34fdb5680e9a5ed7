import numpy as np
import torch
from torch.utils.data import Dataset


class WindowDataset(Dataset):
    def __init__(self, values, stamps, lookback=96, horizon=24):
        # values [T, N] with NaN for missing readings; stamps [T, 4] calendar features
        self.values = values
        self.stamps = stamps
        self.lookback = lookback
        self.horizon = horizon

    def __len__(self):
        return len(self.values) - self.lookback - self.horizon

    def __getitem__(self, i):
        j = i + self.lookback
        window = self.values[i:j]
        missing = np.isnan(window).all(-1)
        x = np.nan_to_num(window)
        y = self.values[j : j + self.horizon, 0]
        y_mask = ~np.isnan(y)
        return (
            torch.from_numpy(x).float(),
            torch.from_numpy(self.stamps[i:j]).float(),
            torch.from_numpy(missing),
            torch.from_numpy(np.nan_to_num(y)).float(),
            torch.from_numpy(y_mask),
        )
