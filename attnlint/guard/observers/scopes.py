"""User code: softmax / ``F.scaled_dot_product_attention`` calls seen by interception.

Two kinds of scope share one ``TorchFunctionMode`` (``observe.Interceptor``), entered only
while a scope runs on a sampled step:

* **fx-found sites**: a user module that torch.fx traced; the graph says which of its
  softmax / SDPA calls, in order, are attention sites (``Scope.calls``).
* **interception scopes**: a user module fx cannot trace; its softmax over the last dim of
  a >= 3-d tensor and its SDPA calls become sites when first seen.

Inside a ``torch.compile`` region dynamo traces the mode itself (no graph break): an
intercepted call is stashed with the scope that made it (the innermost scope running,
where eager interception looks at the caller's frame, which dynamo cannot) and observed
when the step is drained.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from attnlint.guard import recompute, stats
from attnlint.guard.cheap import output_bad
from attnlint.guard.finish import Ratio
from attnlint.guard.observe import Installed, Interceptor, caller_module
from attnlint.guard.observers.base import Context, arg, compiling, first_float
from attnlint.guard.sites import HOW_DYN_SDPA, HOW_DYN_SOFTMAX, HOW_EXPECTED, Scope, site_name

Forward = Callable[..., Any]


class ScopeObserver:
    def __init__(self, ctx: Context, scopes: dict[str, Scope], paths: dict[int, str]) -> None:
        self.ctx = ctx
        self.scopes = scopes
        self.paths = paths  # id(module) -> path, for the module whose code made a call
        self.mode = Interceptor(self.on_call, ctx)
        self.depth = 0
        self.active: list[str] = []  # scopes running now, innermost last (compiled path)
        self.calls = 0  # calls stashed this step (compiled path)

    def install(self, installed: Installed) -> None:
        for scope in self.scopes.values():
            installed.wrap_forward(scope.module, self._around(scope.path))

    def _around(self, path: str) -> Callable[[Forward, tuple, dict], Any]:
        ctx = self.ctx

        def around(original: Forward, args: tuple, kwargs: dict) -> Any:
            if not ctx.capturing:
                return original(*args, **kwargs)
            x = first_float((args, kwargs))
            if x is not None and x.dim() >= 3:
                # detached where it is kept: in a compiled region, an output of the graph
                # that requires grad would get a tangent in the backward
                ctx.collector.scope_inputs[path] = x.detach()
            self.active.append(path)
            try:
                if self.depth:
                    return original(*args, **kwargs)
                self.depth += 1
                try:
                    with self.mode:
                        return original(*args, **kwargs)
                finally:
                    self.depth -= 1
            finally:
                self.active.pop()

        return around

    def site_of(
        self, func: Any, args: tuple, kwargs: dict, path: str | None
    ) -> tuple[str, str] | None:
        """-> (site, scope path) of an intercepted call made by the module at ``path``, or
        None when it is no site."""
        if path is None:
            return None
        counts = self.ctx.collector.call_counts
        scope = self.scopes.get(path)
        n = counts.get(path, 0)
        counts[path] = n + 1
        if scope is not None and scope.traced:
            calls = scope.calls
            if not calls or not calls[n % len(calls)]:
                return None
            index = sum(calls[: n % len(calls)])
        else:
            if func is not F.scaled_dot_product_attention:
                x = arg(args, kwargs, 0, "input")
                dim = arg(args, kwargs, 1, "dim")
                if not isinstance(x, Tensor) or x.dim() < 3 or dim not in (-1, x.dim() - 1):
                    return None
            key = f"{path}#attn"
            index = counts.get(key, 0)
            counts[key] = index + 1
        return site_name(path, index), path

    def on_call(self, func: Any, args: tuple, kwargs: dict, out: Any) -> None:
        if not self.ctx.capturing or not isinstance(out, Tensor):
            return
        # dynamo cannot look at the caller's frame: the innermost running scope stands in
        path = self.active[-1] if compiling() else caller_module(self.paths)
        self.calls += 1
        self.ctx.defer(f"call{self.calls}", self.observe_call, func, args, kwargs, out, path)

    def observe_call(
        self, func: Any, args: tuple, kwargs: dict, out: Tensor, path: str | None
    ) -> None:
        found = self.site_of(func, args, kwargs, path)
        if found is None:
            return
        site, path = found
        is_sdpa = func is F.scaled_dot_product_attention
        if self.ctx.sites.get(site, HOW_EXPECTED) == HOW_EXPECTED:
            self.ctx.sites[site] = HOW_DYN_SDPA if is_sdpa else HOW_DYN_SOFTMAX
        if is_sdpa:
            self.observe_sdpa(site, path, args, kwargs, out)
        else:
            self.observe_softmax(site, path, arg(args, kwargs, 0, "input"), out)

    def observe_sdpa(self, site: str, path: str, args: tuple, kwargs: dict, out: Tensor) -> None:
        cfg = self.ctx.config
        q, k = arg(args, kwargs, 0, "query"), arg(args, kwargs, 1, "key")
        with self.ctx.quiet:
            att = recompute.sdpa(
                q.detach(),
                k.detach(),
                arg(args, kwargs, 3, "attn_mask"),
                bool(arg(args, kwargs, 5, "is_causal", False)),
                arg(args, kwargs, 6, "scale"),
                cfg.masked_logit_threshold,
                cfg.stats_max_batch,
            )
            self._finish(site, path, att, stats.nonfinite(q.detach(), k.detach()), out)

    def observe_softmax(self, site: str, path: str, x: Tensor, out: Tensor) -> None:
        threshold = self.ctx.config.masked_logit_threshold
        with self.ctx.quiet:
            x = x.detach()
            att = recompute.softmax_site(x, out.detach(), threshold)
            # NaN or inf among the logits above the threshold: as a masked logit is at or
            # below it, that is NaN or +inf anywhere (a finite threshold), one reduction
            if x.is_floating_point() and x.numel() and math.isfinite(threshold):
                bad_in = output_bad([x])
            else:
                bad_in = stats.nonfinite(torch.where(x <= threshold, 0.0, x))
            self._finish(site, path, att, bad_in, out)

    def _finish(
        self, site: str, path: str, att: recompute.Attention, bad_in: Tensor, out: Tensor
    ) -> None:
        extra: dict[str, Ratio] = {}
        xin = self.ctx.collector.scope_inputs.get(path)
        if xin is not None:
            extra["input_variance"] = stats.position_variance_parts(xin)
        elif att.key_input is not None:
            extra["input_variance"] = stats.relative_variance_parts(att.key_input, dim=1)
        self.ctx.store_attention(site, att, extra)
        rec = self.ctx.collector.record(site)
        rec.bad_in = bad_in
        rec.bad_out = stats.nonfinite(out.detach())
