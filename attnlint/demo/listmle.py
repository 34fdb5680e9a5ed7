"""ListMLE (Xia et al. 2008), written to be correct where the seed's was not.

Masked: padded items neither score nor appear in any denominator. Shift-invariant: adding
a constant to every score of a list leaves the loss unchanged (no clamping, no
``nan_to_num``, and the value that masks padding moves with the scores). With constant
scores the loss of a list of L items is exactly log(L!): the seed's flat 27.8993 is
log(15!).
"""

from __future__ import annotations

import torch
from torch import Tensor

# Padding scores sit this far below the list's lowest real score: exp(-1e4) is exactly 0
# in float32, so they add nothing to a denominator, and the gap is relative, so a shift of
# all scores shifts the padding too.
_PAD_GAP = 1e4


def listmle_per_list(scores: Tensor, rel: Tensor, mask: Tensor | None = None) -> Tensor:
    """Negative log-likelihood of the relevance order, one value per list: shape [B]."""
    if mask is None:
        mask = torch.ones_like(scores, dtype=torch.bool)
    # Sort by relevance, best first; padding goes last whatever its label.
    key = rel.masked_fill(~mask, float("-inf"))
    order = torch.argsort(key, dim=-1, descending=True, stable=True)
    s = scores.gather(-1, order)
    m = mask.gather(-1, order)
    floor = s.detach().masked_fill(~m, float("inf")).amin(-1, keepdim=True)
    # A list with no valid item has no floor (+inf): any finite value will do there, as all
    # its entries are padding. A NaN or inf among the real scores is left alone, to surface.
    floor = torch.where(m.any(-1, keepdim=True), floor, torch.zeros_like(floor))
    s_filled = torch.where(m, s, floor - _PAD_GAP)
    # log sum_{j >= k} exp(s_j): a reversed cumulative logsumexp.
    tail = torch.logcumsumexp(s_filled.flip(-1), dim=-1).flip(-1)
    return torch.where(m, tail - s_filled, torch.zeros_like(s_filled)).sum(-1)


def listmle_loss(scores: Tensor, rel: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean ListMLE over the lists that hold at least one item."""
    per_list = listmle_per_list(scores, rel, mask)
    if mask is None:
        return per_list.mean()
    has_items = mask.any(-1)
    return per_list[has_items].mean()
