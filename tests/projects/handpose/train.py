import hydra
import lightning as L
from data import FreiHandDataModule
from lit import LitHandPose
from model import build_model
from omegaconf import DictConfig, OmegaConf


@hydra.main(version_base=None, config_path="conf", config_name="train")
def main(cfg: DictConfig) -> None:
    print(OmegaConf.to_yaml(cfg))
    dm = FreiHandDataModule(**cfg.data)
    dm.setup("fit")
    sample = next(iter(dm.train_dataloader()))
    if sample["image"].shape[-1] != cfg.model.img_size:
        raise ValueError(
            f"images are {sample['image'].shape[-1]} px, model expects {cfg.model.img_size}"
        )
    model = build_model(cfg.model, in_channels=sample["image"].shape[1])
    lit = LitHandPose(model, lr=cfg.optim.lr, max_norm=cfg.optim.max_norm)
    trainer = L.Trainer(
        max_epochs=cfg.optim.epochs, precision="bf16-mixed", strategy="fsdp", devices=cfg.devices
    )
    trainer.fit(lit, datamodule=dm)


if __name__ == "__main__":
    main()
