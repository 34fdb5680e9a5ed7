import hydra
import lightning as L
from games import PositionDataset
from lit import LitChess
from model import ChessNet
from omegaconf import DictConfig
from torch.utils.data import DataLoader


@hydra.main(config_path="conf", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> None:
    L.seed_everything(cfg.seed)
    train_ds = PositionDataset(cfg.data.train_glob, history=cfg.data.history)
    val_ds = PositionDataset(cfg.data.val_glob, history=cfg.data.history)
    train_dl = DataLoader(train_ds, batch_size=cfg.data.batch_size, num_workers=12, shuffle=True)
    val_dl = DataLoader(val_ds, batch_size=cfg.data.batch_size, num_workers=4)
    net = ChessNet(
        cfg.model.in_channels, dim=cfg.model.dim, depth=cfg.model.depth, heads=cfg.model.heads
    )
    lit = LitChess(net, lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
    trainer = L.Trainer(
        max_steps=cfg.optim.max_steps,
        precision="bf16-mixed",
        gradient_clip_val=cfg.optim.clip,
        log_every_n_steps=50,
    )
    trainer.fit(lit, train_dl, val_dl)


if __name__ == "__main__":
    main()
