import torch


class QM9Conformers(torch.utils.data.Dataset):
    def __init__(self, root, split):
        self.mols = torch.load(f"{root}/{split}.pt")

    def __len__(self):
        return len(self.mols)

    def __getitem__(self, i):
        m = self.mols[i]
        return m["one_hot"].float(), m["pos"].float()


def collate_mols(batch):
    n = max(h.shape[0] for h, _ in batch)
    hs = torch.zeros(len(batch), n, batch[0][0].shape[1])
    xs = torch.zeros(len(batch), n, 3)
    mask = torch.zeros(len(batch), n, dtype=torch.bool)
    for i, (h, x) in enumerate(batch):
        hs[i, : len(h)], xs[i, : len(h)], mask[i, : len(h)] = h, x, True
    return {"h": hs, "x": xs, "mask": mask}
