# %% [markdown]
# ERA5 2m-temperature / precipitation forecasting with a patch ViT (Kaggle kernel export)

# %%
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from era5 import ERA5Dataset
from utils import latitude_weights, step_optim
from vit import WeatherViT

CONFIG = {
    "in_channels": 69,
    "out_channels": 2,
    "patch": 8,
    "dim": 512,
    "lr": 5e-4,
    "epochs": 10,
    "batch_size": 8,
}

# %%
accelerator = Accelerator()
ds = ERA5Dataset("/kaggle/input/era5-1p5deg", years=range(1979, 2016))
sample = ds[0]
CONFIG["in_channels"] = sample["x"].shape[0]
model = WeatherViT(
    CONFIG["in_channels"], CONFIG["out_channels"], CONFIG["patch"], CONFIG["dim"], use_cls=False
)
loader = torch.utils.data.DataLoader(
    ds, batch_size=CONFIG["batch_size"], shuffle=True, num_workers=2
)
opt = torch.optim.AdamW(model.parameters(), lr=CONFIG["lr"])
model, opt, loader = accelerator.prepare(model, opt, loader)
w_lat = latitude_weights(ds.lat).to(accelerator.device)

# %%
for epoch in range(CONFIG["epochs"]):
    for batch in loader:
        pred = model(batch["x"], batch["patch_keep"])
        pred = pred.clamp(min=0.0)  # precipitation and Kelvin temperatures are non-negative
        loss = (F.mse_loss(pred, batch["y"], reduction="none") * w_lat[:, None]).mean()
        accelerator.backward(loss)
        step_optim(model, opt, accelerator)
    accelerator.print(f"epoch {epoch}: loss {loss.item():.4f}")

# %%
model.eval()
with torch.no_grad():
    preds = [model(b["x"]).float().cpu() for b in loader]
