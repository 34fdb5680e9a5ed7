"""Stock ``nn.MultiheadAttention``: an instance-level ``forward`` wrapper.

A wrapper rather than hooks: a module with hooks takes ``nn.Module``'s slower call path
on every call, sampled or not, where an unsampled call of the wrapper costs one attribute
test. Before the call the wrapper recomputes the per-head, pre-dropout probabilities from
the call's own query and key (the module's weights may be skipped by the fused path and
its returned weights are post-dropout); after it, it tests the output and, for attention
pooling (a single query per item), whether the pooled vectors vary across the batch.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from attnlint.guard import recompute, stats
from attnlint.guard.observe import Installed
from attnlint.guard.observers.base import Context, arg, snapshot, with_params
from attnlint.guard.sites import site_name

# parameters recompute.mha reads: copied when the statistics are computed after the step
_PARAMS = ("in_proj_weight", "in_proj_bias", "q_proj_weight", "k_proj_weight", "bias_k")


class MHAObserver:
    def __init__(self, ctx: Context, modules: dict[str, nn.MultiheadAttention]) -> None:
        self.ctx = ctx
        self.modules = modules

    def install(self, installed: Installed) -> None:
        for path, mha in self.modules.items():
            installed.wrap_forward(mha, self._around(site_name(path), mha))

    def _around(self, site: str, mha: nn.MultiheadAttention) -> Any:
        ctx = self.ctx

        def around(original: Any, args: tuple, kwargs: dict) -> Any:
            if not ctx.capturing:
                return original(*args, **kwargs)
            if ctx.later:
                copies = snapshot(mha, _PARAMS)
                ctx.defer(f"{site}:in", self._deferred, site, mha, copies, args, kwargs)
            else:
                self.observe_inputs(site, mha, args, kwargs)
            output = original(*args, **kwargs)
            out = output[0] if isinstance(output, tuple) else output
            ctx.defer(f"{site}:out", self.observe_output, site, mha, out)
            return output

        return around

    def _deferred(
        self, site: str, mha: nn.MultiheadAttention, copies: dict, args: tuple, kwargs: dict
    ) -> None:
        self.observe_inputs(site, with_params(mha, copies), args, kwargs)

    def observe_inputs(self, site: str, mha: Any, args: tuple, kwargs: dict) -> None:
        q = arg(args, kwargs, 0, "query")
        k = arg(args, kwargs, 1, "key")
        cfg = self.ctx.config
        with self.ctx.quiet:
            att = recompute.mha(
                mha,
                q,
                k,
                arg(args, kwargs, 3, "key_padding_mask"),
                arg(args, kwargs, 5, "attn_mask"),
                bool(arg(args, kwargs, 7, "is_causal", False)),
                cfg.masked_logit_threshold,
                cfg.stats_max_batch,
            )
            extra = {}
            if att.key_input is not None:
                extra["input_variance"] = stats.relative_variance_parts(
                    att.key_input, dim=1, valid=att.key_input_valid
                )
            self.ctx.store_attention(site, att, extra)
            self.ctx.collector.record(site).bad_in = stats.nonfinite(q.detach(), k.detach())

    def observe_output(self, site: str, mha: nn.MultiheadAttention, out: Tensor) -> None:
        with self.ctx.quiet:
            rec = self.ctx.collector.record(site)
            o = out.detach()
            rec.bad_out = stats.nonfinite(o)
            # a single query per item = attention pooling: the pooled vectors must vary
            if not (mha.batch_first or o.dim() == 2):
                o = o.transpose(0, 1)
            if o.dim() == 3 and o.shape[1] == 1 and o.shape[0] >= 2:
                rec.ratios["pooled_variance"] = stats.relative_variance_parts(
                    o.transpose(0, 1), dim=1
                )
