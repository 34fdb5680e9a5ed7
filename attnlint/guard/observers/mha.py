"""Stock ``nn.MultiheadAttention``: hooks on its inputs and outputs.

The pre-hook recomputes the per-head, pre-dropout probabilities from the call's own query
and key (the module's weights may be skipped by the fused path and its returned weights
are post-dropout); the post-hook tests the output and, for attention pooling (a single
query per item), whether the pooled vectors vary across the batch.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from attnlint.guard import recompute, stats
from attnlint.guard.observe import Installed
from attnlint.guard.observers.base import Context, arg, compiling, snapshot, with_params
from attnlint.guard.sites import site_name

# parameters recompute.mha reads: copied when the statistics are computed after the step
_PARAMS = ("in_proj_weight", "in_proj_bias", "q_proj_weight", "k_proj_weight", "bias_k")


class MHAObserver:
    def __init__(self, ctx: Context, modules: dict[str, nn.MultiheadAttention]) -> None:
        self.ctx = ctx
        self.modules = modules

    def install(self, installed: Installed) -> None:
        for path, mha in self.modules.items():
            site = site_name(path)
            installed.handles.append(
                mha.register_forward_pre_hook(self._pre(site), with_kwargs=True)
            )
            installed.handles.append(mha.register_forward_hook(self._post(site)))

    def _pre(self, site: str) -> Any:
        def hook(module: nn.MultiheadAttention, args: tuple, kwargs: dict) -> None:
            if not self.ctx.capturing:
                return
            if compiling():
                copies = snapshot(module, _PARAMS)
                self.ctx.defer(f"{site}:in", self._deferred, site, module, copies, args, kwargs)
            else:
                self.observe_inputs(site, module, args, kwargs)

        return hook

    def _post(self, site: str) -> Any:
        def hook(module: nn.MultiheadAttention, args: tuple, output: Any) -> None:
            if not self.ctx.capturing:
                return
            out = output[0] if isinstance(output, tuple) else output
            if compiling():
                self.ctx.defer(f"{site}:out", self.observe_output, site, module, out)
            else:
                self.observe_output(site, module, out)

        return hook

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
                extra["input_variance"] = stats.relative_variance(
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
                rec.values["pooled_variance"] = stats.relative_variance(o.transpose(0, 1), dim=1)
