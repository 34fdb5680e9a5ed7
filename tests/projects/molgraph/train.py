import torch
import torch.nn.functional as F
from data import MoleculeDataset, pad_collate
from model import MolTransformer
from omegaconf import OmegaConf


def regression_loss(preds, target, weight=None):
    preds = preds.clamp(-20.0, 20.0)
    err = F.smooth_l1_loss(preds, target, reduction="none")
    if weight is not None:
        err = err * weight
    return err.mean()


def classification_loss(logits, labels):
    probs = torch.sigmoid(logits)
    probs = torch.clamp(probs, 1e-6, 1 - 1e-6)
    return -(labels * probs.log() + (1 - labels) * (1 - probs).log()).mean()


def main():
    cfg = OmegaConf.load("conf/qm9.yaml")
    train_set = MoleculeDataset(cfg.data.root, "train")
    loader = torch.utils.data.DataLoader(
        train_set, cfg.train.batch_size, shuffle=True, collate_fn=pad_collate
    )
    model = MolTransformer(train_set.num_atom_features, dim=cfg.model.dim, depth=cfg.model.depth)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.train.lr)
    for epoch in range(cfg.train.epochs):
        for batch in loader:
            pred = model(batch.atoms, batch.bonds, batch.spd, batch.node_keep)
            if cfg.task == "regression":
                loss = regression_loss(pred, batch.y)
            else:
                loss = classification_loss(pred, batch.y)
            opt.zero_grad()
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.clip)
            opt.step()
        print(f"epoch {epoch} loss {loss.item():.4f} grad norm {norm:.2f}")


if __name__ == "__main__":
    main()
