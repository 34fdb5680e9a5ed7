import torch


def step_optimizer(scaler, optimizer, model, max_norm):
    scaler.unscale_(optimizer)
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad(set_to_none=True)
    return norm.item()


def step_plain(optimizer, model, max_value):
    torch.nn.utils.clip_grad_value_(model.parameters(), max_value)
    optimizer.step()
    optimizer.zero_grad()
