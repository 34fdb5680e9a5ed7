import os

import torch
import torch.distributed as dist


def setup_ddp():
    dist.init_process_group("nccl")
    rank = int(os.environ["LOCAL_RANK"])
    torch.cuda.set_device(rank)
    return rank, dist.get_world_size()


def clip_and_step(model, optimizer, scaler, max_norm):
    scaler.unscale_(optimizer)
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad(set_to_none=True)
    return norm


def all_reduce_mean(x):
    x = x.clone()
    dist.all_reduce(x)
    return x / dist.get_world_size()
