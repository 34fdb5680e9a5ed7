def step_optim(model, optimizer, accelerator, max_norm=1.0):
    n = accelerator.clip_grad_norm_(model.parameters(), max_norm)
    optimizer.step()
    optimizer.zero_grad()
    return n


def latitude_weights(lat):
    import torch

    w = torch.cos(torch.deg2rad(lat))
    return w / w.mean()
