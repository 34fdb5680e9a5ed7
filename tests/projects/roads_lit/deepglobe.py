import glob

import numpy as np
import torch
from PIL import Image


class DeepGlobeRoads(torch.utils.data.Dataset):
    def __init__(self, root, split):
        self.imgs = sorted(glob.glob(f"{root}/{split}/*_sat.tif"))

    def __len__(self):
        return len(self.imgs)

    def __getitem__(self, i):
        img = np.asarray(Image.open(self.imgs[i]), dtype=np.float32) / 255.0
        road = np.asarray(Image.open(self.imgs[i].replace("_sat.tif", "_mask.png"))) > 127
        orient = np.load(self.imgs[i].replace("_sat.tif", "_orient.npy"))
        return (
            torch.from_numpy(img).permute(2, 0, 1),
            torch.from_numpy(road.astype(np.float32)),
            torch.from_numpy(orient.astype(np.int64)),
        )
