import torch
from torch.utils.data import DataLoader

from src.config import TrainConfig
from src.losses import focal_loss
from src.model import SeqClassifier


def finetune(train_set, n_classes, checkpoint):
    cfg = TrainConfig()
    loader = DataLoader(train_set, batch_size=cfg.batch_size, shuffle=True)
    x0, _ = next(iter(loader))
    if x0.shape[-1] != cfg.model.input_dim:
        raise ValueError(f"features have width {x0.shape[-1]}, config says {cfg.model.input_dim}")
    model = SeqClassifier(cfg.model, n_classes)
    model.load_state_dict(torch.load(checkpoint))
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9)
    for x, y in loader:
        loss = focal_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_norm)
        if not torch.isfinite(norm):
            raise FloatingPointError(f"gradient norm is {norm}")
        optimizer.step()
    return model
