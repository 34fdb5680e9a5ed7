"""Attention probabilities recomputed from a site's own inputs and parameters.

Called under ``torch.no_grad()`` on sampled steps only. Everything is computed with the
functional ops on the module's parameters (never by calling a submodule, which would run
the user's own hooks), in float32, without dropout (pre-dropout probabilities, per head)
and without drawing random numbers. Layout after this module: [B, H, Lq, Lk].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnlint.guard.masks import causal_drop, drop_to_neg_inf, keep_or_zero


@dataclass
class Attention:
    probs: Tensor  # [B, H, Lq, Lk]
    valid: Tensor | None  # bool, broadcastable to probs: keys a row may attend to; None: all
    logits: Tensor | None  # scaled QK^T without mask additions
    query_valid: Tensor | None = None  # [B, Lq] real (non-padding) queries
    key_input: Tensor | None = None  # [B, Lk, E] what the keys were computed from
    key_input_valid: Tensor | None = None  # [B, Lk]
    materialised: bool = False  # probs are the model's own (not recomputed with -inf masks)


def _f32(x: Tensor) -> Tensor:
    """``x`` as float32: itself when it is (a ``.float()`` call still costs a dispatch)."""
    return x if x.dtype == torch.float32 else x.float()


def _to_batch_first(x: Tensor, batch_first: bool) -> Tensor:
    if x.dim() == 2:  # unbatched (L, E)
        return x.unsqueeze(0)
    return x if batch_first else x.transpose(0, 1)


def _split_masks(
    mask: Tensor | None, threshold: float, shape: tuple[int, ...]
) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    """-> (hard bool mask, additive float mask, float-masked-out positions), all in ``shape``
    broadcasting form. Bool masks use PyTorch's MHA convention (True = not allowed)."""
    if mask is None:
        return None, None, None
    mask = mask.reshape(shape)
    if mask.dtype == torch.bool:
        return mask, None, None
    add = mask.float()
    return None, add, add <= threshold


def mha(
    module: nn.MultiheadAttention,
    query: Tensor,
    key: Tensor,
    key_padding_mask: Tensor | None,
    attn_mask: Tensor | None,
    is_causal: bool,
    threshold: float,
    max_batch: int | None = None,
) -> Attention:
    """Probabilities of ``nn.MultiheadAttention`` for one call, as its slow path computes them."""
    self_attn = query is key
    bf = module.batch_first
    unbatched = query.dim() == 2
    q_in = _f32(_to_batch_first(query, bf))
    k_in = q_in if self_attn else _f32(_to_batch_first(key, bf))
    if key_padding_mask is not None and unbatched:
        key_padding_mask = key_padding_mask.unsqueeze(0)
    B_full = q_in.shape[0]
    if max_batch is not None and max_batch < B_full:
        q_in = q_in[:max_batch]
        k_in = q_in if self_attn else k_in[:max_batch]
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask[:max_batch]
    B, L, E = q_in.shape
    S = k_in.shape[1]
    H = module.num_heads
    d = E // H

    bias = module.in_proj_bias
    if module._qkv_same_embed_dim and self_attn:
        # one product for both projections of a self-attention call
        qk = F.linear(q_in, _f32(module.in_proj_weight[: 2 * E]), _bias(bias, 0, 2 * E))
        q, k = qk.split(E, dim=-1)
    else:
        if module._qkv_same_embed_dim:
            wq, wk = module.in_proj_weight[:E], module.in_proj_weight[E : 2 * E]
        else:
            wq, wk = module.q_proj_weight, module.k_proj_weight
        q = F.linear(q_in, _f32(wq), _bias(bias, 0, E))
        k = F.linear(k_in, _f32(wk), _bias(bias, E, 2 * E))

    # key padding and attention masks, in [B or 1, H or 1, L or 1, S] form
    kpm_hard, kpm_add, kpm_soft = _split_masks(
        key_padding_mask, threshold, (B, 1, 1, S) if key_padding_mask is not None else ()
    )
    am_hard = am_add = am_soft = None
    if attn_mask is not None:
        if attn_mask.dim() == 3:
            attn_mask = attn_mask[: B * H] if attn_mask.shape[0] > B * H else attn_mask
            am_shape: tuple[int, ...] = (B, H, L, S)
        else:
            am_shape = (1, 1, L, S)
        am_hard, am_add, am_soft = _split_masks(attn_mask, threshold, am_shape)
    elif is_causal:
        am_hard = causal_drop(L, S, q.device)[None, None]

    extra = 0
    if module.bias_k is not None:
        k = torch.cat([k, module.bias_k.float().expand(B, 1, E)], dim=1)
        extra += 1
    q = q.reshape(B, L, H, d).transpose(1, 2)
    k = k.reshape(B, S + extra, H, d).transpose(1, 2)
    if module.add_zero_attn:
        k = torch.cat([k, k.new_zeros(B, H, 1, d)], dim=2)
        extra += 1

    # scaled before the product, as the module does: a pass over q, not over the logits
    logits = (q * d**-0.5) @ k.transpose(-1, -2)  # [B, H, L, S + extra]

    def pad(m: Tensor | None, value: float | bool) -> Tensor | None:
        # bias_k / the zero key are appended keys that every row may attend to
        if m is None or extra == 0:
            return m
        return F.pad(m.float(), (0, extra), value=float(value)).to(m.dtype)

    hard = None
    for m in (pad(kpm_hard, False), pad(am_hard, False)):
        if m is not None:
            hard = m if hard is None else hard | m
    soft = None
    for m in (pad(kpm_soft, False), pad(am_soft, False)):
        if m is not None:
            soft = m if soft is None else soft | m
    scores = logits
    for m in (pad(kpm_add, 0.0), pad(am_add, 0.0)):
        if m is not None:
            scores = scores + m
    if hard is not None:
        scores = drop_to_neg_inf(scores, hard)
    probs = torch.softmax(scores, dim=-1)

    invalid = hard
    if soft is not None:
        invalid = soft if invalid is None else invalid | soft
    valid = None if invalid is None else ~invalid
    key_valid = None
    if key_padding_mask is not None:
        key_valid = ~(
            key_padding_mask
            if key_padding_mask.dtype == torch.bool
            else key_padding_mask <= threshold
        )
    query_valid = key_valid if (self_attn and key_valid is not None and L == S) else None
    return Attention(probs, valid, logits, query_valid, k_in, key_valid)


def _bias(bias: Tensor | None, start: int, stop: int) -> Tensor | None:
    return None if bias is None else _f32(bias[start:stop])


def encoder_layer_input(layer: nn.TransformerEncoderLayer, src: Tensor) -> Tensor:
    """What ``layer.self_attn`` receives: ``norm1(src)`` when norm_first, else ``src``."""
    if not layer.norm_first:
        return src
    n = layer.norm1
    return F.layer_norm(src, n.normalized_shape, n.weight, n.bias, n.eps)


def unnest(src: Tensor, batch_first: bool) -> tuple[Tensor, Tensor | None]:
    """A nested tensor (TransformerEncoder's sparsity fast path) -> padded + key_padding_mask."""
    if not src.is_nested:
        return src, None
    lengths = [t.shape[0] for t in src.unbind()]
    padded = src.to_padded_tensor(0.0)
    pos = torch.arange(padded.shape[1], device=padded.device)
    kpm = pos[None, :] >= torch.tensor(lengths, device=padded.device)[:, None]
    if not batch_first:
        padded = padded.transpose(0, 1)
    return padded, kpm


def sdpa(
    query: Tensor,
    key: Tensor,
    attn_mask: Tensor | None,
    is_causal: bool,
    scale: float | None,
    threshold: float,
    max_batch: int | None = None,
) -> Attention:
    """Probabilities of ``F.scaled_dot_product_attention`` (bool mask: True = may attend)."""
    q, k = query.float(), key.float()
    if q.dim() == 3:
        q, k = q.unsqueeze(1), k.unsqueeze(1)
        if attn_mask is not None and attn_mask.dim() == 3:
            attn_mask = attn_mask.unsqueeze(1)
    if max_batch is not None:
        q, k = q[:max_batch], k[:max_batch]
        if attn_mask is not None and attn_mask.dim() == 4 and attn_mask.shape[0] > max_batch:
            attn_mask = attn_mask[:max_batch]
    if k.shape[-3] != q.shape[-3] and q.shape[-3] % k.shape[-3] == 0:  # grouped-query
        k = k.repeat_interleave(q.shape[-3] // k.shape[-3], dim=-3)
    L, S, E = q.shape[-2], k.shape[-2], q.shape[-1]
    logits = (q * (E**-0.5 if scale is None else scale)) @ k.transpose(-1, -2)
    scores = logits
    invalid = None
    if is_causal:
        invalid = causal_drop(L, S, q.device)
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            m = ~attn_mask
            invalid = m if invalid is None else invalid | m
        else:
            scores = scores + attn_mask.float()
            m = attn_mask <= threshold
            # soft-masked keys keep the probability they really get (the seed's failure)
            soft = m
            probs_valid = ~soft if invalid is None else ~(soft | invalid)
            if invalid is not None:
                scores = drop_to_neg_inf(scores, invalid)
            probs = torch.softmax(scores, dim=-1)
            key_in = k.transpose(1, 2).reshape(k.shape[0], S, -1)
            return Attention(probs, probs_valid, logits, None, key_in, None)
    if invalid is not None:
        scores = drop_to_neg_inf(scores, invalid)
    probs = torch.softmax(scores, dim=-1)
    valid = None if invalid is None else ~invalid
    key_in = k.transpose(1, 2).reshape(k.shape[0], S, -1)
    return Attention(probs, valid, logits, None, key_in, None)


def softmax_site(logits: Tensor, probs: Tensor, threshold: float) -> Attention:
    """A hand-written softmax: the probabilities are materialised; masked keys are the ones
    whose logit is at or below ``threshold`` (masked_fill with -inf, -1e9, finfo.min, ...)."""

    def to4(x: Tensor) -> Tensor:
        if x.dim() == 2:
            return x[None, None]
        if x.dim() == 3:
            return x[:, None]
        if x.dim() > 4:
            return x.flatten(1, -3)
        return x

    lg, p = to4(logits.float()), to4(probs.float())
    valid = ~(lg <= threshold)  # NaN logits stay "valid" so that their NaN rows are counted
    finite_logits = keep_or_zero(lg, valid)
    return Attention(p, valid, finite_logits, None, None, None, materialised=True)
