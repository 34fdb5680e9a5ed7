"""What each key of an attention site received: the column and sink statistics.

Part of ``attnlint.guard.attnstats`` (same rules: few torch calls, no host reads, no writes
to the caller's tensors).
"""

from __future__ import annotations

import torch
from torch import Tensor

_TINY = 1e-30


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


def column_sums(col: Tensor) -> dict[str, Tensor]:
    """What ``finish`` makes the column statistics of: the entropy of what each key received
    (normalised per batch item and head) and the largest share, summed over the (item,
    head) pairs, and the count of pairs whose rows gave anything (``~col_ent`` holds the
    sum of s log s, minus the entropy)."""
    total = col.sum(-1, keepdim=True)
    share = col / total.clamp_min(_TINY)
    col_ent = share.clamp_min(torch.finfo(col.dtype).tiny).log_().mul_(share).sum(-1)
    # both are 0 for a pair that received nothing, so a plain sum is the sum over the rest
    ent, top = torch.stack([col_ent, col.amax(-1)]).sum(1).unbind()
    return {"~col_ent": ent, "~col_max": top, "~col_pairs": (total > 0).sum()}


def sink_parts(got: Tensor, vf: Tensor | None, w: Tensor, nv: Tensor | None) -> dict[str, Tensor]:
    """What ``finish.finish_sinks`` makes the attention sinks of, normalised by what the
    masks let each key receive.

    ``got`` [H, Lk]: the attention each key received from the rows weighted 1 in ``w``
    [B, H, Lq]; ``vf`` the 0/1 key mask in its broadcast shape (None: every key). Per head
    and key: ``got`` divided by the number of those rows that may attend to the key
    (``sink_mass``: 1 = every such row gives it all its mass), and divided by what uniform
    attention would give it (``sink_lift``). Under a causal mask the first keys are seen by
    every row, so their raw column sums are large in any healthy model; this ratio is not.
    Only keys that at least half of the rows may see count: a sink is a key most queries
    attend to. Pooled over the batch.
    """
    if vf is None or nv is None:
        # every row sees every key: a head counts when it has a row, uniform gives 1 / Lk
        share = got / w.sum((0, 2)).clamp_min_(1).unsqueeze_(-1)  # 0 in a head without rows
        best, flat = share.flatten().max(0)  # the first largest, as argmax
        return {"~sink": best, "~sink_at": flat}
    both = _key_sums(torch.stack([w, w / nv.clamp_min(1)], -2), vf)  # [H, 2, Lk]
    seen, uniform = both.unbind(1)
    enough = seen >= w.sum((0, 2)).unsqueeze_(-1).clamp_min_(1).mul_(0.5)
    share = got / seen.clamp_min(1) * enough
    best, flat = share.flatten().max(0)  # the first largest, as argmax
    lift = (got / uniform.clamp_min(_TINY)).take(flat)
    return {"~sink": best, "~sink_at": flat, "~sink_lift": lift, "~sink_any": enough.any()}
