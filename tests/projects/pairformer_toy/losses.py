import torch


def _stable_log_softmax(x, dim=-1):
    x = torch.clamp(x, -30.0, 30.0)
    return x - torch.logsumexp(x, dim=dim, keepdim=True)


def distogram_loss(logits, ca_coords, seq_mask, n_bins=64, min_d=2.0, max_d=22.0):
    boundaries = torch.linspace(min_d, max_d, n_bins - 1, device=logits.device)
    dists = torch.cdist(ca_coords, ca_coords)
    true_bins = torch.bucketize(dists, boundaries)
    logp = _stable_log_softmax(logits)
    ce = -logp.gather(-1, true_bins.unsqueeze(-1)).squeeze(-1)
    pmask = seq_mask[:, :, None] * seq_mask[:, None, :]
    return (ce * pmask).sum() / pmask.sum().clamp(min=1.0)


def torsion_loss(pred_sincos, true_sincos, seq_mask):
    cos = (pred_sincos * true_sincos).sum(-1)
    angle = torch.acos(cos.clamp(-1 + 1e-6, 1 - 1e-6))
    per_res = angle.mean(-1)
    return (per_res * seq_mask).sum() / seq_mask.sum().clamp(min=1.0)
