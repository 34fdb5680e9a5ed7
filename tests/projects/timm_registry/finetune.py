import argparse

import torch
import torch.nn.functional as F
from models import create_model
from utils.clip import clip_grad_value_only, dispatch_clip_grad


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--num-features", type=int, default=32)
    args = p.parse_args()
    loader = torch.utils.data.DataLoader(torch.load("ft.pt"), batch_size=64)
    model = create_model("tab_vit_tiny", in_features=args.num_features)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    for step, (x, y) in enumerate(loader):
        if step == 0 and x.shape[-1] != args.num_features:
            raise ValueError(f"data has {x.shape[-1]} features, expected {args.num_features}")
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        grad_norm = dispatch_clip_grad(model.parameters(), 1.0)
        clip_grad_value_only(model.parameters(), 5.0)
        optimizer.step()
        if step % 50 == 0:
            print(f"step {step} loss {loss.item():.4f} grad_norm {grad_norm:.3f}")


if __name__ == "__main__":
    main()
