"""Fine-tune the pretrained model on a refreshed export of the training table."""

import copy

import torch
import torch.nn.functional as F
import yaml
from config import CFG
from utils import load_split, optimizer_step


def finetune(new_table, ckpt_path, out_dir, epochs=10):
    cfg = copy.deepcopy(CFG)
    x_num, x_cat, y = load_split(new_table, "train", cfg["data"]["target"])
    cfg["data"]["n_num_features"] = x_num.shape[1]
    model = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["optim"]["lr"] / 10)
    history = []
    for _ in range(epochs):
        for i in range(0, len(y), 512):
            logits = model(x_num[i : i + 512], x_cat[i : i + 512])
            loss = F.binary_cross_entropy_with_logits(logits, y[i : i + 512])
            loss.backward()
            history.append(optimizer_step(model, opt, cfg["optim"]["max_norm"]))
    with open(f"{out_dir}/config.yaml", "w") as f:
        yaml.safe_dump(cfg, f)
    torch.save(model, f"{out_dir}/model.pt")
    return history
