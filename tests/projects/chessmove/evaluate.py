import torch
from model import ChessNet


@torch.no_grad()
def move_accuracy(net: ChessNet, loader, device="cuda"):
    net.eval()
    hits = total = 0
    for batch in loader:
        out = net(batch["planes"].to(device))
        probs = torch.softmax(out["policy"], dim=-1) * batch["legal"].to(device)
        probs = torch.nan_to_num(probs, nan=0.0)
        hits += (probs.argmax(-1) == batch["pi"].to(device).argmax(-1)).sum().item()
        total += len(probs)
    return hits / max(total, 1)
