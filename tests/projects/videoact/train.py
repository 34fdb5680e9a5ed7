import lightning as L
from data import KineticsDataModule
from lightning.pytorch.callbacks import LearningRateMonitor
from module import VideoActionModule

if __name__ == "__main__":
    dm = KineticsDataModule("/data/k400", frames=8, batch_size=16)
    model = VideoActionModule(num_classes=400)
    trainer = L.Trainer(max_epochs=30, precision="bf16-mixed", callbacks=[LearningRateMonitor()])
    trainer.fit(model, dm)
