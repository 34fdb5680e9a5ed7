import os

import torch
import torch.distributed as dist
from torch.cuda.amp import GradScaler, autocast
from torch.nn.parallel import DistributedDataParallel as DDP
from utils.build import build_model
from utils.optim import step_optimizer, step_plain


def train(cfg, dataset):
    dist.init_process_group("nccl")
    rank = int(os.environ["LOCAL_RANK"])
    sampler = torch.utils.data.distributed.DistributedSampler(dataset)
    loader = torch.utils.data.DataLoader(dataset, batch_size=cfg.batch_size, sampler=sampler)
    first = next(iter(loader))
    feat_dim = int(first["feats"].shape[-1])
    model = build_model(cfg, in_dim_override=feat_dim).cuda(rank)
    model = DDP(model, device_ids=[rank])
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    scaler = GradScaler()
    for epoch in range(cfg.epochs):
        sampler.set_epoch(epoch)
        for batch in loader:
            with autocast():
                out = model(batch["feats"].cuda(rank))
                loss = criterion(out, batch["label"].cuda(rank))
                loss = torch.nan_to_num(loss, nan=0.0)
            scaler.scale(loss).backward()
            step_optimizer(scaler, optimizer, model, cfg.max_norm)


def finetune_head(cfg, model, loader):
    opt = torch.optim.SGD(model.module.head.parameters(), lr=cfg.lr)
    for batch in loader:
        loss = torch.nn.functional.cross_entropy(model(batch["feats"]), batch["label"])
        loss.backward()
        torch.nn.utils.clip_grad.clip_grad_norm_(model.parameters(), 1.0)
        step_plain(opt, model, 0.5)
