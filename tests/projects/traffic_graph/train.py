import torch
from accelerate import Accelerator
from config import TrainConfig
from layers import STGraphFormer, apply_update, masked_mae_loss


def make_time_bias(t, device):
    pos = torch.arange(t, device=device, dtype=torch.float32)
    return -0.1 * (pos[None, :] - pos[:, None]).abs()


def main():
    cfg = TrainConfig()
    accelerator = Accelerator(log_with="tensorboard", project_dir="runs")
    accelerator.init_trackers("stgraphformer")
    data = torch.load("metr_la.pt")
    adj = data["adj"] + torch.eye(cfg.n_nodes)
    loader = torch.utils.data.DataLoader(data["train"], batch_size=32, shuffle=True)
    x0, _ = next(iter(loader))
    assert x0.shape[-1] == cfg.num_node_features, "sensor feature count changed"
    model = STGraphFormer(cfg.num_node_features, cfg.d_model, cfg.heads, cfg.horizon)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, cfg.epochs)
    model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)
    adj = adj.to(accelerator.device)
    step = 0
    for epoch in range(cfg.epochs):
        for x, y in loader:
            x = torch.nan_to_num(x, nan=0.0)
            time_bias = make_time_bias(x.shape[1], x.device)
            preds = model(x, adj, time_bias)
            loss = masked_mae_loss(preds, y[..., 0])
            accelerator.backward(loss)
            apply_update(accelerator, model, optimizer, scheduler, cfg.max_norm)
            accelerator.log({"train/mae": loss.item()}, step=step)
            step += 1
    accelerator.end_training()


if __name__ == "__main__":
    main()
