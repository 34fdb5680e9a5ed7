import json

import torch
from torch.nn.utils.rnn import pad_sequence


class TranslationPairs(torch.utils.data.Dataset):
    def __init__(self, manifest):
        with open(manifest) as f:
            self.items = [json.loads(line) for line in f]
        self.n_mels = 80

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        it = self.items[i]
        feats = torch.load(it["feats"]).nan_to_num(0.0)
        return feats, torch.tensor(it["tokens"])


def collate(batch):
    feats, toks = zip(*batch)
    lens = torch.tensor([f.shape[0] for f in feats])
    x = pad_sequence(feats, batch_first=True)
    pad = torch.arange(x.shape[1])[None] >= lens[:, None]
    t = pad_sequence(toks, batch_first=True)
    return x, pad, t[:, :-1], t[:, 1:]
