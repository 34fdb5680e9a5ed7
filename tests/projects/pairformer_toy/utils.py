def masked_logits(logits, mask):
    """Remove padded positions from a softmax. mask: 1 for a real residue / sequence."""
    return logits.masked_fill(~mask.bool(), -float("inf"))


def permute_final_dims(t, *inds):
    zero_index = -1 * len(inds)
    first_inds = list(range(len(t.shape[:zero_index])))
    return t.permute(first_inds + [zero_index + i for i in inds])


def pair_mask_from(seq_mask):
    return seq_mask[..., :, None] * seq_mask[..., None, :]
