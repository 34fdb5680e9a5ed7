import torch
import torch.nn.functional as F
from ranking_loss import ListwiseLoss, SampledSoftmaxLoss, bpr_loss
from towers import TwoTower

CONFIG = {"user": {"n_features": 40}, "n_items": 100000, "lr": 1e-3}


def train(loader, epochs=3):
    model = TwoTower(n_features=CONFIG["user"]["n_features"], n_items=CONFIG["n_items"])
    opt = torch.optim.Adam(model.parameters(), lr=CONFIG["lr"])
    listwise = ListwiseLoss()
    sampled = SampledSoftmaxLoss()
    for _epoch in range(epochs):
        for i, batch in enumerate(loader):
            if i == 0:
                assert batch["user_feats"].shape[-1] == CONFIG["user"]["n_features"]
            pos_scores, neg_scores = model(
                batch["user_feats"], batch["hist"], batch["hist_mask"], batch["pos"], batch["neg"]
            )
            loss = bpr_loss(pos_scores, neg_scores)
            scores = torch.cat([pos_scores.unsqueeze(-1), neg_scores], -1)
            loss = loss + listwise(scores, batch["labels"])
            logits = model.in_batch_logits(
                batch["user_feats"], batch["hist"], batch["hist_mask"], batch["pos"]
            )
            loss = (
                loss
                + sampled(logits, torch.arange(logits.size(0)))
                + F.cross_entropy(logits, torch.arange(logits.size(0)))
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
