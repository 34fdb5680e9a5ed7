import torch
from torch.utils.data import Dataset

VOCAB = {c: i for i, c in enumerate("ACGUN")}


class BpRNADataset(Dataset):
    def __init__(self, path):
        self.rows = torch.load(path)

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        seq, pairs = self.rows[i]
        idx = torch.tensor([VOCAB.get(c, 4) for c in seq])
        contacts = torch.zeros(len(seq), len(seq))
        for a, b in pairs:
            contacts[a, b] = contacts[b, a] = 1.0
        return torch.nn.functional.one_hot(idx, len(VOCAB)).float(), contacts


def collate(items):
    l = max(x.shape[0] for x, _ in items)
    onehot = torch.zeros(len(items), l, items[0][0].shape[1])
    contacts = torch.zeros(len(items), l, l)
    pad = torch.ones(len(items), l, dtype=torch.bool)
    for i, (x, c) in enumerate(items):
        n = x.shape[0]
        onehot[i, :n], contacts[i, :n, :n], pad[i, :n] = x, c, False
    return {"onehot": onehot, "contacts": contacts, "pad": pad}
