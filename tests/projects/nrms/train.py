import hydra
import numpy as np
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from nrms.data import MindDataset
from nrms.model import NRMS
from omegaconf import DictConfig
from sklearn.metrics import roc_auc_score


@hydra.main(config_path="conf", config_name="config", version_base=None)
def main(cfg: DictConfig):
    accelerator = Accelerator(log_with="tensorboard", project_dir="runs")
    accelerator.init_trackers("nrms")
    embeddings = torch.from_numpy(np.nan_to_num(np.load(f"{cfg.data.root}/glove.npy"))).float()
    if embeddings.shape[1] != cfg.model.glove_dim:
        raise ValueError(
            f"glove matrix has width {embeddings.shape[1]}, config says {cfg.model.glove_dim}"
        )
    model = NRMS(embeddings, cfg.model)
    train_ds = MindDataset(cfg.data, split="train")
    dev_ds = MindDataset(cfg.data, split="dev")
    loader = torch.utils.data.DataLoader(train_ds, batch_size=cfg.train.batch_size, shuffle=True)
    dev_loader = torch.utils.data.DataLoader(dev_ds, batch_size=256)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.train.lr)
    model, opt, loader, dev_loader = accelerator.prepare(model, opt, loader, dev_loader)

    step = 0
    for epoch in range(cfg.train.epochs):
        model.train()
        for batch in loader:
            scores = model(batch["history"], batch["hist_keep"], batch["candidates"])
            loss = F.cross_entropy(
                scores, torch.zeros(scores.shape[0], dtype=torch.long, device=scores.device)
            )
            accelerator.backward(loss)
            if accelerator.sync_gradients:
                accelerator.clip_grad_norm_(model.parameters(), cfg.train.max_grad_norm)
            opt.step()
            opt.zero_grad()
            step += 1
            if step % 100 == 0:
                accelerator.log({"train/loss": loss.item()}, step=step)

        model.eval()
        aucs = []
        with torch.no_grad():
            for batch in dev_loader:
                scores = model(
                    batch["history"], batch["hist_keep"], batch["candidates"]
                ).nan_to_num()
                for s, y, m in zip(
                    scores.cpu().numpy(),
                    batch["labels"].cpu().numpy(),
                    batch["cand_keep"].cpu().numpy(),
                ):
                    if y[m].min() != y[m].max():
                        aucs.append(roc_auc_score(y[m], s[m]))
        accelerator.log({"dev/auc": float(np.mean(aucs))}, step=step)
    accelerator.end_training()


if __name__ == "__main__":
    main()
