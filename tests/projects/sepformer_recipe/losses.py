import itertools

import torch

EPS = 1e-8


def si_snr(est, ref):
    """Scale-invariant SNR per source, [B, S, T] -> [B, S] in dB."""
    est = est - est.mean(-1, keepdim=True)
    ref = ref - ref.mean(-1, keepdim=True)
    proj = (est * ref).sum(-1, keepdim=True) * ref / (ref.pow(2).sum(-1, keepdim=True) + EPS)
    noise = est - proj
    ratio = proj.pow(2).sum(-1) / (noise.pow(2).sum(-1) + EPS)
    return 10 * torch.log10(ratio.clamp(min=EPS))


def pit_si_snr(est, ref):
    """Best SI-SNR over source permutations, averaged over sources: [B]."""
    # the decoder sometimes blows up on silent segments; keep the batch alive
    est = est.nan_to_num(0.0)
    n_src = est.shape[1]
    perms = list(itertools.permutations(range(n_src)))
    per_perm = torch.stack([si_snr(est[:, list(p)], ref).mean(-1) for p in perms], dim=1)
    best, _ = per_perm.max(dim=1)
    return best


def si_snr_improvement(est, ref, mix):
    base = si_snr(mix.unsqueeze(1).expand_as(ref), ref)
    return pit_si_snr(est, ref) - base.mean(-1)
