import torch


def clip_and_step(model, optimizer, max_norm):
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return norm


def smoothed_nll(logits, target, eps=0.1):
    probs = logits.softmax(dim=-1)
    logp = probs.clamp(min=1e-8).log()
    nll = -logp.gather(-1, target.unsqueeze(-1)).squeeze(-1)
    return ((1 - eps) * nll - eps * logp.mean(dim=-1)).mean()
