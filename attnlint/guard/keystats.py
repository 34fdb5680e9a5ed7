"""What each key of an attention site received: the column and sink statistics.

Part of ``attnlint.guard.attnstats`` (same rules: few torch calls, no host reads, no writes
to the caller's tensors).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from attnlint.guard.masks import constant

_TINY = 1e-30


def nan_unless(x: Tensor, mean: Tensor) -> Tensor:
    """``x``, or NaN where ``mean`` is NaN (a mean over no rows): ``x + 0 * mean`` is exactly
    ``x`` for a finite mean, one operation where a ``where`` with a constant takes two."""
    return x + mean * 0


def _key_sums(w: Tensor, vf: Tensor) -> Tensor:
    """sum over batch and query of ``w[b, h, c, q] * vf[b, h, q, k]`` -> [H, C, Lk], with
    ``vf`` (a 0/1 key mask) in its own broadcast shape: never expanded to full size."""
    if vf.shape[-2] == 1:  # the same keys for every query
        return (w.sum(-1, keepdim=True) * vf).sum(0)
    if vf.shape[0] == 1:
        w = w.sum(0, keepdim=True)
    if vf.shape[1] == 1:  # one mask for all heads: one (batched) matmul over H * C rows
        b, h, c, lq = w.shape
        return (w.reshape(b, h * c, lq) @ vf[:, 0]).reshape(b, h, c, -1).sum(0)
    return (w @ vf).sum(0)


def column_stats(col: Tensor) -> dict[str, Tensor]:
    """Entropy of what each key received (normalised per batch item and head) and the
    largest share, averaged over the (item, head) pairs whose rows gave anything."""
    total = col.sum(-1, keepdim=True)
    share = col / total.clamp_min(_TINY)
    col_ent = share.clamp_min(torch.finfo(col.dtype).tiny).log_().mul_(share).sum(-1)
    # both are 0 for a pair that received nothing, so a plain sum is the sum over the rest
    sums = torch.stack([col_ent, col.amax(-1)]).sum(1) / (total > 0).sum()
    return {"col_entropy": -sums[0], "max_col_sum": sums[1]}


def sink_stats(
    got: Tensor, vf: Tensor | None, w: Tensor, nv: Tensor | None, any_rows: Tensor
) -> dict[str, Tensor]:
    """Attention sinks, normalised by what the masks let each key receive.

    ``got`` [H, Lk]: the attention each key received from the rows weighted 1 in ``w``
    [B, H, Lq]; ``vf`` the 0/1 key mask in its broadcast shape (None: every key). Per head
    and key: ``got`` divided by the number of those rows that may attend to the key
    (``sink_mass``: 1 = every such row gives it all its mass), and divided by what uniform
    attention would give it (``sink_lift``). Under a causal mask the first keys are seen by
    every row, so their raw column sums are large in any healthy model; this ratio is not.
    Only keys that at least half of the rows may see count: a sink is a key most queries
    attend to. Pooled over the batch. ``any_rows``: NaN when no row counts.
    """
    lk = got.shape[-1]
    if vf is None or nv is None:
        # every row sees every key: a head counts when it has a row, uniform gives 1 / Lk
        share = got / w.sum((0, 2)).clamp_min_(1).unsqueeze_(-1)  # 0 in a head without rows
        best, flat = share.flatten().max(0)  # the first largest, as argmax
        # the index tensors are int64: cat promotes them to the float dtype
        out = torch.cat([torch.stack([best, best * lk]), torch.stack([flat % lk, flat // lk])])
        out = nan_unless(out, any_rows)
    else:
        both = _key_sums(torch.stack([w, w / nv.clamp_min(1)], -2), vf)  # [H, 2, Lk]
        seen, uniform = both.unbind(1)
        enough = seen >= w.sum((0, 2)).unsqueeze_(-1).clamp_min_(1).mul_(0.5)
        share = got / seen.clamp_min(1) * enough
        best, flat = share.flatten().max(0)  # the first largest, as argmax
        lift = (got / uniform.clamp_min(_TINY)).flatten().gather(0, flat.unsqueeze(0))
        out = torch.cat([best.unsqueeze(0), lift, torch.stack([flat % lk, flat // lk])])
        out = torch.where(enough.any(), out, constant(math.nan, out.device, out.dtype))
    mass, lift, key, head = out.unbind()
    return {"sink_mass": mass, "sink_lift": lift, "sink_key": key, "sink_head": head}
