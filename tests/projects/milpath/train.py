import json
import logging

import torch
import torch.nn.functional as F
from data import SlideBagDataset, collate_bags
from model import GatedAttentionMIL

logger = logging.getLogger(__name__)


def main(cfg_path="config.json"):
    with open(cfg_path) as fh:
        cfg = json.load(fh)
    ds = SlideBagDataset(cfg["data"]["features_dir"], cfg["data"]["labels_csv"])
    loader = torch.utils.data.DataLoader(ds, batch_size=4, shuffle=True, collate_fn=collate_bags)
    feats, valid, _ = next(iter(loader))
    cfg["model"]["in_features"] = feats.shape[-1]
    model = GatedAttentionMIL(**cfg["model"])
    opt = torch.optim.Adam(model.parameters(), lr=2e-4, weight_decay=1e-5)
    for epoch in range(cfg["train"]["epochs"]):
        for feats, valid, label in loader:
            feats = torch.nan_to_num(feats)
            logits, attn = model(feats, valid)
            loss = F.cross_entropy(logits, label)
            opt.zero_grad()
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            logger.info("epoch=%d loss=%.4f grad_norm=%.3f", epoch, loss.item(), grad_norm)
            opt.step()


if __name__ == "__main__":
    main()
