import h5py
import numpy as np
import torch


class WaveformDataset(torch.utils.data.Dataset):
    def __init__(self, path, split, length=6000):
        self.f = h5py.File(path, "r")
        self.keys = [k for k in self.f[split]]
        self.split = split
        self.length = length

    def __len__(self):
        return len(self.keys)

    def __getitem__(self, i):
        g = self.f[self.split][self.keys[i]]
        wave = np.nan_to_num(g["data"][:, : self.length]).astype(np.float32)
        wave = wave / (np.abs(wave).max(axis=1, keepdims=True) + 1e-8)
        target = g["target"][:, : self.length].astype(np.float32)
        valid = np.zeros(self.length, dtype=bool)
        valid[: g.attrs["n_samples"]] = True
        return torch.from_numpy(wave), torch.from_numpy(target), torch.from_numpy(valid)
