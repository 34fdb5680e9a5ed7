import hydra
import lightning as L
from layout.data import LayoutDataModule
from layout.lit import LitLayout
from omegaconf import DictConfig


@hydra.main(config_path="conf", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> None:
    dm = LayoutDataModule(cfg.data.root, batch_size=cfg.data.batch_size)
    model = LitLayout(
        input_dim=cfg.model.input_dim,
        dim=cfg.model.dim,
        heads=cfg.model.heads,
        num_classes=cfg.model.num_classes,
        lr=cfg.optim.lr,
    )
    trainer = L.Trainer(max_epochs=cfg.trainer.epochs, precision="bf16-mixed", log_every_n_steps=20)
    trainer.fit(model, datamodule=dm)


if __name__ == "__main__":
    main()
