import torch


def optimizer_step(model, optimizer, max_norm):
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return norm


def phase_loss(logits, target, valid):
    logp = torch.log_softmax(logits, dim=1)
    ce = -(target * logp).sum(1)
    return (ce * valid).sum() / valid.sum().clamp(min=1)


@torch.no_grad()
def pick_error(logits, target, valid, sr=100):
    probs = torch.softmax(logits, dim=1).clamp(1e-6, 1 - 1e-6)
    pred = probs[:, 1].argmax(-1)
    true = target[:, 1].argmax(-1)
    return ((pred - true).abs().float() / sr).mean()
