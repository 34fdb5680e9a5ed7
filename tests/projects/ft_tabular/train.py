import torch
import torch.nn.functional as F
from config import CFG
from model import FTTransformer
from torch.utils.data import DataLoader, TensorDataset
from utils import load_split, optimizer_step


def main():
    x_num, x_cat, y = load_split(CFG["data"]["path"], "train", CFG["data"]["target"])
    assert x_cat.shape[1] == len(CFG["data"]["cat_cardinalities"]), "categorical columns changed"
    loader = DataLoader(
        TensorDataset(x_num, x_cat, y), batch_size=CFG["optim"]["batch_size"], shuffle=True
    )
    mcfg = CFG["model"]
    model = FTTransformer(CFG["data"]["n_num_features"], CFG["data"]["cat_cardinalities"], **mcfg)
    opt = torch.optim.AdamW(
        model.parameters(), lr=CFG["optim"]["lr"], weight_decay=CFG["optim"]["weight_decay"]
    )
    scaler = torch.cuda.amp.GradScaler()
    for epoch in range(CFG["optim"]["epochs"]):
        model.train()
        for xb_num, xb_cat, yb in loader:
            with torch.autocast("cuda", dtype=torch.float16):
                logits = model(xb_num, xb_cat)
                loss = F.binary_cross_entropy_with_logits(logits, yb)
            scaler.scale(loss).backward()
            optimizer_step(model, opt, CFG["optim"]["max_norm"], scaler)
        torch.save(model.state_dict(), f"ckpt/ft_{epoch:03d}.pt")


if __name__ == "__main__":
    main()
