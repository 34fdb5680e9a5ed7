import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset


class RefCOCOFeatures(Dataset):
    def __init__(self, path, max_regions=36, score_thresh=0.2):
        self.items = torch.load(path)
        self.max_regions = max_regions
        self.score_thresh = score_thresh

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        it = self.items[i]
        feats = torch.nan_to_num(it["region_feats"][: self.max_regions].float())
        boxes = it["boxes"][: self.max_regions]
        keep = it["det_scores"][: self.max_regions] > self.score_thresh
        return feats, boxes, keep, it["tokens"], it["target_box"]


def collate(batch):
    feats, boxes, keep, tokens, target = zip(*batch)
    n = max(f.size(0) for f in feats)
    t = max(len(x) for x in tokens)
    F = torch.zeros(len(batch), n, feats[0].size(-1))
    B = torch.zeros(len(batch), n, 4)
    K = torch.zeros(len(batch), n, dtype=torch.bool)
    T = torch.zeros(len(batch), t, dtype=torch.long)
    for i in range(len(batch)):
        F[i, : feats[i].size(0)] = feats[i]
        B[i, : boxes[i].size(0)] = boxes[i]
        K[i, : keep[i].size(0)] = keep[i]
        T[i, : len(tokens[i])] = torch.as_tensor(tokens[i])
    return {"regions": F, "boxes": B, "region_keep": K, "tokens": T, "target": torch.stack(target)}


class GroundingDataModule(L.LightningDataModule):
    def __init__(self, root, batch_size=64, num_workers=4):
        super().__init__()
        self.save_hyperparameters()

    def setup(self, stage=None):
        self.train_set = RefCOCOFeatures(f"{self.hparams.root}/train.pt")
        self.val_set = RefCOCOFeatures(f"{self.hparams.root}/val.pt")

    def train_dataloader(self):
        return DataLoader(
            self.train_set,
            batch_size=self.hparams.batch_size,
            shuffle=True,
            num_workers=self.hparams.num_workers,
            collate_fn=collate,
        )

    def val_dataloader(self):
        return DataLoader(
            self.val_set,
            batch_size=self.hparams.batch_size,
            num_workers=self.hparams.num_workers,
            collate_fn=collate,
        )
