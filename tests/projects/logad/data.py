import re

import torch
from torch.utils.data import Dataset

TEMPLATE_RE = re.compile(r"blk_-?\d+")


class SessionWindows(Dataset):
    def __init__(self, sessions, vocab, window=50):
        self.vocab = vocab
        self.window = window
        self.items = []
        for lines in sessions:
            ids = [vocab[t] for t in (TEMPLATE_RE.sub("<*>", ln) for ln in lines) if t in vocab]
            ids = ids[-(window + 1) :]
            self.items.append([0] * (window + 1 - len(ids)) + ids)

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return {"events": torch.tensor(self.items[i], dtype=torch.long)}
