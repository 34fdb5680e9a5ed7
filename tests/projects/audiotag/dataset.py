import os

import torch
from torch.utils.data import Dataset


class TagDataset(Dataset):
    def __init__(self, root, split="train"):
        self.files = sorted(os.listdir(os.path.join(root, split)))
        self.root = os.path.join(root, split)

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        item = torch.load(os.path.join(self.root, self.files[i]))
        spec = torch.nan_to_num(item["logmel"], nan=0.0)  # broken frames in a few clips
        return {"spec": spec, "tags": item["tags"]}
