"""AttentionGuard: observe a model's attention sites during training, never alter them.

Data flow: model -> sites (``sites.discover``) -> captured inputs on sampled steps
(hooks / wrappers / interception, ``observe``) -> probabilities (``recompute``) -> 0-d
statistic tensors on the device (``stats``) -> one host sync in ``step()`` -> checks
(``checks``) -> ``StepReport``.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnlint import __version__
from attnlint.guard import checks, recompute, stats
from attnlint.guard.config import GuardConfig
from attnlint.guard.observe import Installed, Interceptor, bind, caller_module
from attnlint.guard.outputs import Output, Outputs, RunLogOutput
from attnlint.guard.policy import Policy
from attnlint.guard.sites import (
    HOW_DYN_SDPA,
    HOW_DYN_SOFTMAX,
    HOW_EXPECTED,
    Discovery,
    discover,
    site_name,
)
from attnlint.guard.source import confirm as confirm_sites
from attnlint.guard.source import site_sources
from attnlint.records import SCHEMA_VERSION, AttentionStats, BatchStats, StepReport, Violation

logger = logging.getLogger("attnlint.guard")


class GuardWarning(UserWarning):
    """Category of the warnings issued with ``on_violation="warn"``."""


class GuardError(RuntimeError):
    """Raised by ``step()`` with ``on_violation="raise"``; ``.violations`` lists them."""

    def __init__(self, violations: Sequence[Violation]) -> None:
        self.violations = list(violations)
        super().__init__("\n".join(v.message for v in self.violations))


@dataclass
class _SiteRecord:
    site: str
    values: dict[str, Tensor] = field(default_factory=dict)
    bad_in: Tensor | None = None
    bad_out: Tensor | None = None


@dataclass
class _Capture:
    """Device tensors gathered on one sampled step; read with a single sync in ``step()``."""

    records: list[_SiteRecord] = field(default_factory=list)  # execution order
    by_site: dict[str, _SiteRecord] = field(default_factory=dict)
    scalars: dict[str, Tensor] = field(default_factory=dict)
    input_dim: int | None = None
    call_counts: dict[str, int] = field(default_factory=dict)
    scope_inputs: dict[str, Tensor] = field(default_factory=dict)
    pending: dict[int, Tensor] = field(default_factory=dict)  # layer id -> input (residual)

    def record(self, site: str) -> _SiteRecord:
        rec = self.by_site.get(site)
        if rec is None:
            rec = self.by_site[site] = _SiteRecord(site)
            self.records.append(rec)
        return rec


def _first_tensor(obj: Any) -> Tensor | None:
    for t in _tensors(obj):
        if t.is_floating_point():
            return t
    return None


def _tensors(obj: Any) -> Iterator[Tensor]:
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, Mapping):
        for v in obj.values():
            yield from _tensors(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _tensors(v)


class AttentionGuard:
    """Wraps a model in the training loop; see docs/guard.md.

    ``guard(*inputs)`` and ``model(*inputs)`` are both observed (observation is installed at
    construction), so framework integrations need only ``record_grad_norms()`` / ``step()``.
    """

    def __init__(
        self,
        model: nn.Module,
        config: GuardConfig | None = None,
        log_path: str | None = None,
        loss_fn: Callable[..., Any] | None = None,
        *,
        outputs: Sequence[Output] = (),
    ) -> None:
        self.model = model
        self.config = config or GuardConfig()
        self.log_path = log_path
        self.loss_fn = loss_fn
        self._found: Discovery = discover(model)
        self.sites: dict[str, str] = dict(self._found.sites)
        self.untraceable: dict[str, str] = dict(self._found.untraceable)
        self._paths = {id(m): p for p, m in model.named_modules()}
        self._scope_paths = {id(s.module): p for p, s in self._found.scopes.items()}
        self._step = 0
        self._forced = False
        self._force_next = False
        self._diagnose_next = False
        self._capturing = False
        self._captured = False
        self._paused = False
        self._cap = _Capture()
        self._cheap: dict[str, Tensor] = {}
        self._cheap_since = 0
        self._grad_norms: dict[str, float | None] = {}
        self._input_dim: int | None = None
        self._losses: list[float] = []
        self._loss_tensor: Tensor | None = None
        self._uniform_streak: dict[str, Any] = {}  # the checks' state between steps
        self._policy = Policy(self.config, GuardError, GuardWarning)
        self._plateau: Any = None
        items: list[Output] = [] if log_path is None else [RunLogOutput(log_path)]
        self._outputs = Outputs([*items, *outputs])
        self._closed = False
        self._mode = Interceptor(self._on_intercept)
        self._scope_depth = 0
        self._installed = Installed()
        self._install()

    # ------------------------------------------------------------------ public API
    @property
    def sampled(self) -> bool:
        """Whether the current step collects full statistics."""
        return self._forced or self._step % self.config.every == 0

    @property
    def step_index(self) -> int:
        return self._step

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.model(*args, **kwargs)

    def pause(self) -> None:
        """Stop observing forwards (their outputs are neither captured nor checked) until
        ``resume()``. The integrations pause outside training steps, so a validation or
        evaluation forward never becomes the statistics of the next sampled step."""
        self._paused = True

    def resume(self) -> None:
        self._paused = False

    @property
    def is_paused(self) -> bool:
        return self._paused

    def set_input_dim(self, n: int) -> None:
        self._input_dim = int(n)

    def check_scores(self, scores: Tensor, mask: Tensor | None = None) -> None:
        """finite_scores on ``scores`` (``mask``: True = a real item; padding is ignored)."""
        s = scores.detach()
        valid = torch.ones_like(s, dtype=torch.bool) if mask is None else mask.bool()
        bad = (~torch.isfinite(s) & valid).sum()
        if not self.sampled:
            self._accumulate("scores", bad)
            return
        with torch.no_grad():
            self._cap.scalars.update(stats.score_stats(s, valid))

    def check_relevance(self, rel: Tensor, mask: Tensor | None = None) -> None:
        """relevance: each list (row of ``rel``) has >= 2 valid items whose relevance is
        not constant. ``mask``: True (or > 0) = a real item."""
        r = rel.detach().float()
        if r.dim() == 1:
            r = r[None]
            mask = None if mask is None else mask[None]
        valid = torch.ones_like(r, dtype=torch.bool) if mask is None else mask > 0
        inf = torch.full_like(r, math.inf)
        rmin = torch.where(valid, r, inf).amin(-1)
        rmax = torch.where(valid, r, -inf).amax(-1)
        n = valid.sum(-1)
        degenerate = (n < 2) | ~(rmax > rmin)
        if not self.sampled:
            self._accumulate("relevance", degenerate.any().float())
            return
        with torch.no_grad():
            cnt = valid.sum().clamp_min(1)
            mean = torch.where(valid, r, 0).sum() / cnt
            nf = n.float()
            self._cap.scalars.update(
                {
                    "list_count": torch.tensor(float(r.shape[0]), device=r.device),
                    "list_len_min": nf.amin(),
                    "list_len_max": nf.amax(),
                    "list_len_mean": nf.mean(),
                    "rel_min": torch.where(valid, r, inf).amin(),
                    "rel_max": torch.where(valid, r, -inf).amax(),
                    "rel_mean": mean,
                    "rel_std": (torch.where(valid, r - mean, 0) ** 2).sum().div(cnt).sqrt(),
                    "degenerate_list_share": degenerate.float().mean(),
                }
            )

    def record_grad_norms(self, norms: Mapping[str, float] | None = None) -> dict[str, float]:
        """Gradient norms before clipping: ``{"total": .., "<top-level module>": ..}``.

        Computed on sampled steps only (one sync); ``{}`` on the others. ``norms`` given
        (e.g. gathered by a framework's parameter hooks) are stored instead of reading
        ``.grad``.
        """
        if norms is not None:
            self._grad_norms = {k: float(v) for k, v in norms.items()}
            return dict(self._grad_norms)
        if not self.sampled:
            return {}
        groups: dict[str, list[Tensor]] = {}
        seen: set[int] = set()
        for name, p in self.model.named_parameters():
            if p.grad is None or id(p) in seen:
                continue
            seen.add(id(p))
            top = name.split(".", 1)[0] if "." in name else "root"
            groups.setdefault(top, []).append(p.grad.detach().float().norm())
        if not groups:
            self._grad_norms = {}
            return {}
        dev = next(iter(groups.values()))[0].device
        per = [torch.stack([t.to(dev) for t in ts]).norm() for ts in groups.values()]
        values = torch.stack(per)
        flat = torch.cat([values.norm()[None], values]).tolist()
        self._grad_norms = dict(zip(["total", *groups], flat, strict=True))
        return dict(self._grad_norms)

    def step(self, loss: Any = None) -> StepReport:
        """Close the step: run the checks on a sampled step and return its report."""
        sampled = self.sampled
        diagnose = self._diagnose_next
        report = StepReport(step=self._step, sampled=sampled)
        if isinstance(loss, (int, float)):
            report.loss = float(loss)
        if sampled:
            if isinstance(loss, Tensor) and loss.numel() == 1:
                self._cap.scalars["loss"] = loss.detach().float().reshape(())
            self._finish_sampled(report)
        report = self._distributed(report)
        self._plateau_update(report, loss, diagnose)
        if sampled:
            self._write(report)
        self._reset_step()
        if report.violations:
            self._handle(report.violations)
        return report

    def close(self) -> None:
        """Remove every hook and wrapper; the model is exactly as it was."""
        if self._closed:
            return
        self._installed.remove()
        self._closed = True
        self._outputs.close()

    def __enter__(self) -> AttentionGuard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ installation
    def _install(self) -> None:
        inst = self._installed
        root = self.model
        root_is_layer = root in self._found.encoder_layers.values()
        if not root_is_layer:
            inst.handles.append(root.register_forward_pre_hook(self._root_pre, with_kwargs=True))
        for path, mha in self._found.mha.items():
            site = site_name(path)
            inst.handles.append(
                mha.register_forward_pre_hook(self._mha_pre(site, mha), with_kwargs=True)
            )
            inst.handles.append(mha.register_forward_hook(self._mha_post(site)))
        for path, layer in self._found.encoder_layers.items():
            site = site_name(f"{path}.self_attn" if path else "self_attn")
            inst.wrap_forward(layer, self._encoder_around(site, layer, layer is root))
        blocks = {**self._found.decoder_layers, **self._found.residual_blocks}
        for path, block in blocks.items():
            inst.handles.append(block.register_forward_pre_hook(self._block_pre(block)))
            inst.handles.append(block.register_forward_hook(self._residual_post(path, block)))
        for scope in self._found.scopes.values():
            inst.wrap_forward(scope.module, self._scope_around(scope.path))
        if not root_is_layer:
            # registered last so that it runs after a site hook on the root itself
            inst.handles.append(
                root.register_forward_hook(self._root_post, with_kwargs=True, always_call=True)
            )

    # ------------------------------------------------------------------ root
    def _root_pre(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        if self._paused or not self.sampled or self._captured or self._capturing:
            return
        self._capturing = True
        self._cap.call_counts.clear()
        x = _first_tensor((args, kwargs))
        if x is not None and x.numel():
            with torch.no_grad():
                xd = x.detach()
                self._cap.input_dim = int(xd.shape[-1]) if xd.dim() else None
                self._cap.scalars["input_bad"] = (~torch.isfinite(xd).all()).float()
                fx = xd.float()
                self._cap.scalars.update(
                    {"input_min": fx.amin(), "input_max": fx.amax(), "input_mean": fx.mean()}
                )

    def _root_post(self, module: nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        # -inf is tolerated in model outputs: masking padded scores with -inf is an idiom;
        # check_scores(scores, mask) is the strict test.
        if self._paused and not self._capturing:
            return
        outs = [t.detach() for t in _tensors(output) if t.is_floating_point() and t.numel()]
        if not self._capturing:
            if self.config.cheap_checks and outs and self._cheap_enabled():
                bad = torch.stack([(t.isnan() | (t == math.inf)).any() for t in outs]).any()
                self._accumulate("output", bad.float())
            return
        self._capturing = False
        self._captured = True
        if not outs:
            return
        with torch.no_grad():
            bads = [(t.isnan() | (t == math.inf)).any() for t in outs]
            flags = torch.stack([b.to(bads[0].device) for b in bads])
            self._cap.scalars["output_bad"] = flags.any().float()
            first = next((t for t in outs if t.dim() >= 1 and t.shape[0] >= 2), None)
            if first is not None:
                # variance of each output element across the batch
                self._cap.scalars["output_variance"] = stats.relative_variance(
                    first.reshape(first.shape[0], -1)[None], dim=1
                )

    def _cheap_enabled(self) -> bool:
        return not self._captured  # once per step: the first forward of a non-sampled step

    # ------------------------------------------------------------------ site observers
    @contextlib.contextmanager
    def _quiet(self) -> Iterator[None]:
        """No grad, no autocast, no interception while the guard computes."""
        paused = self._mode.paused
        self._mode.paused = True
        try:
            with torch.no_grad(), torch.autocast("cpu", enabled=False):
                if torch.cuda.is_available():
                    with torch.autocast("cuda", enabled=False):
                        yield
                else:
                    yield
        finally:
            self._mode.paused = paused

    def _store(self, site: str, att: recompute.Attention, extra: dict[str, Tensor]) -> None:
        cfg = self.config
        values = stats.attention_stats(
            att.probs,
            att.valid,
            att.query_valid,
            att.logits,
            cfg.logit_saturation_threshold,
            cfg.stats_rows,
            materialised=att.materialised,
        )
        values.update(extra)
        rec = self._cap.record(site)
        rec.values.update(values)

    def _mha_pre(self, site: str, mha: nn.MultiheadAttention) -> Callable[..., None]:
        def hook(module: nn.Module, args: tuple, kwargs: dict) -> None:
            if not self._capturing:
                return
            a = bind(type(mha).forward, (mha, *args), kwargs)
            q, k = a["query"], a["key"]
            with self._quiet():
                att = recompute.mha(
                    mha,
                    q,
                    k,
                    a.get("key_padding_mask"),
                    a.get("attn_mask"),
                    bool(a.get("is_causal", False)),
                    self.config.masked_logit_threshold,
                    self.config.stats_max_batch,
                )
                extra = {}
                if att.key_input is not None:
                    extra["input_variance"] = stats.relative_variance(
                        att.key_input, dim=1, valid=att.key_input_valid
                    )
                self._store(site, att, extra)
                self._cap.record(site).bad_in = stats.nonfinite(q.detach(), k.detach())

        return hook

    def _mha_post(self, site: str) -> Callable[..., None]:
        def hook(module: nn.Module, args: tuple, output: Any) -> None:
            if not self._capturing:
                return
            out = output[0] if isinstance(output, tuple) else output
            with self._quiet():
                rec = self._cap.record(site)
                rec.bad_out = stats.nonfinite(out.detach())
                # a single query per item = attention pooling: the pooled vectors must vary
                bf = getattr(module, "batch_first", False)
                o = out.detach() if bf or out.dim() == 2 else out.detach().transpose(0, 1)
                if o.dim() == 3 and o.shape[1] == 1 and o.shape[0] >= 2:
                    rec.values["pooled_variance"] = stats.relative_variance(
                        o.transpose(0, 1), dim=1
                    )

        return hook

    def _encoder_around(
        self, site: str, layer: nn.TransformerEncoderLayer, is_root: bool
    ) -> Callable[[Callable[..., Any], tuple, dict], Any]:
        def around(original: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
            if is_root:
                self._root_pre(layer, args, kwargs)
            if not self._capturing:
                out = original(*args, **kwargs)
                if is_root:
                    self._root_post(layer, args, kwargs, out)
                return out
            a = bind(type(layer).forward, (layer, *args), kwargs)
            src = a["src"]
            bf = layer.self_attn.batch_first
            with self._quiet():
                padded, nested_kpm = recompute.unnest(src.detach(), bf)
                kpm = a.get("src_key_padding_mask")
                kpm = nested_kpm if nested_kpm is not None else kpm
                x = recompute.encoder_layer_input(layer, padded)
                att = recompute.mha(
                    layer.self_attn,
                    x,
                    x,
                    kpm,
                    a.get("src_mask"),
                    bool(a.get("is_causal", False)),
                    self.config.masked_logit_threshold,
                    self.config.stats_max_batch,
                )
                extra = {
                    "input_variance": stats.relative_variance(
                        att.key_input, dim=1, valid=att.key_input_valid
                    )
                }
                self._store(site, att, extra)
                rec = self._cap.record(site)
                rec.bad_in = stats.nonfinite(padded)
            out = original(*args, **kwargs)
            with self._quiet():
                o, _ = recompute.unnest(out.detach(), bf)
                rec.bad_out = stats.nonfinite(o)
                inp = padded if bf or padded.dim() == 2 else padded.transpose(0, 1)
                oo = o if bf or o.dim() == 2 else o.transpose(0, 1)
                valid = None if att.key_input_valid is None else att.key_input_valid
                if oo.shape == inp.shape:
                    if valid is not None and valid.shape != inp.shape[:-1]:
                        valid = None
                    rec.values["residual_ratio"] = stats.residual_ratio(oo, inp, valid)
            if is_root:
                self._root_post(layer, args, kwargs, out)
            return out

        return around

    def _block_pre(self, layer: nn.Module) -> Callable[..., None]:
        def hook(module: nn.Module, args: tuple) -> None:
            if self._capturing and args and isinstance(args[0], Tensor):
                self._cap.pending[id(layer)] = args[0]

        return hook

    def _residual_post(self, path: str, block: nn.Module) -> Callable[..., None]:
        """A block's ratio (a decoder layer, or a user block that adds its input back) goes
        to the first attention site recorded inside it: a decoder layer's ``self_attn``, a
        user block's own site or a child's. Sites of untraceable code only exist once they
        ran, so the site is looked up here rather than at discovery."""

        def hook(module: nn.Module, args: tuple, output: Any) -> None:
            x = self._cap.pending.pop(id(block), None)
            if x is None or not self._capturing or not isinstance(output, Tensor):
                return
            inside = f"{path}." if path else ""
            rec = next(
                (r for r in self._cap.records if r.site == path or r.site.startswith(inside)),
                None,
            )
            if rec is not None and output.shape == x.shape:
                with self._quiet():
                    rec.values["residual_ratio"] = stats.residual_ratio(output.detach(), x.detach())

        return hook

    def _scope_around(self, path: str) -> Callable[[Callable[..., Any], tuple, dict], Any]:
        def around(original: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
            if not self._capturing:
                return original(*args, **kwargs)
            x = _first_tensor((args, kwargs))
            if x is not None and x.dim() >= 3:
                self._cap.scope_inputs[path] = x
            if self._scope_depth:
                return original(*args, **kwargs)
            self._scope_depth += 1
            try:
                with self._mode:
                    return original(*args, **kwargs)
            finally:
                self._scope_depth -= 1

        return around

    def _on_intercept(self, func: Any, args: tuple, kwargs: dict, out: Any) -> None:
        if not self._capturing or not isinstance(out, Tensor):
            return
        is_sdpa = func is F.scaled_dot_product_attention
        path = caller_module(self._paths)
        if path is None:
            return
        scope = self._found.scopes.get(path)
        n = self._cap.call_counts.get(path, 0)
        self._cap.call_counts[path] = n + 1
        if scope is not None and scope.traced:
            calls = scope.calls
            if not calls or not calls[n % len(calls)]:
                return
            index = sum(calls[: n % len(calls)])
        else:
            if not is_sdpa:
                x = args[0] if args else kwargs.get("input")
                dim = args[1] if len(args) > 1 else kwargs.get("dim")
                if not isinstance(x, Tensor) or x.dim() < 3 or dim not in (-1, x.dim() - 1):
                    return
            key = f"{path}#attn"
            index = self._cap.call_counts.get(key, 0)
            self._cap.call_counts[key] = index + 1
        site = site_name(path, index)
        if self.sites.get(site, HOW_EXPECTED) == HOW_EXPECTED:
            self.sites[site] = HOW_DYN_SDPA if is_sdpa else HOW_DYN_SOFTMAX
        cfg = self.config
        with self._quiet():
            if is_sdpa:
                a = bind(_sdpa_signature, args, kwargs)
                q, k = a["query"], a["key"]
                att = recompute.sdpa(
                    q.detach(),
                    k.detach(),
                    a.get("attn_mask"),
                    bool(a.get("is_causal")),
                    a.get("scale"),
                    cfg.masked_logit_threshold,
                    cfg.stats_max_batch,
                )
                bad_in = stats.nonfinite(q.detach(), k.detach())
            else:
                x = args[0] if args else kwargs["input"]
                att = recompute.softmax_site(x.detach(), out.detach(), cfg.masked_logit_threshold)
                bad_in = stats.nonfinite(
                    torch.where(x.detach() <= cfg.masked_logit_threshold, 0.0, x.detach())
                )
            extra: dict[str, Tensor] = {}
            xin = self._cap.scope_inputs.get(path)
            if xin is not None:
                extra["input_variance"] = stats.position_variance(xin.detach())
            elif att.key_input is not None:
                extra["input_variance"] = stats.relative_variance(att.key_input, dim=1)
            self._store(site, att, extra)
            rec = self._cap.record(site)
            rec.bad_in = bad_in
            rec.bad_out = stats.nonfinite(out.detach())

    # ------------------------------------------------------------------ step internals
    def _accumulate(self, name: str, value: Tensor) -> None:
        if not self.config.cheap_checks:
            return
        prev = self._cheap.get(name)
        v = value.detach().float()
        self._cheap[name] = v if prev is None else prev + v.to(prev.device)

    def _finish_sampled(self, report: StepReport) -> None:
        cap = self._cap
        names: list[tuple[str, str]] = []  # (owner, key); owner "" = scalar
        tensors: list[Tensor] = []
        for rec in cap.records:
            for key, t in rec.values.items():
                names.append((rec.site, key))
                tensors.append(t)
            for key, t in (("bad_in", rec.bad_in), ("bad_out", rec.bad_out)):
                if t is not None:
                    names.append((rec.site, key))
                    tensors.append(t)
        for key, t in cap.scalars.items():
            names.append(("", key))
            tensors.append(t)
        for key, t in self._cheap.items():
            names.append(("", f"cheap_{key}"))
            tensors.append(t)
        values: dict[tuple[str, str], float] = {}
        if tensors:
            dev = tensors[0].device
            flat = torch.stack([t.detach().float().reshape(()).to(dev) for t in tensors])
            values = dict(zip(names, flat.tolist(), strict=True))  # the one host sync

        def val(owner: str, key: str) -> float | None:
            v = values.get((owner, key))
            return None if v is None or math.isnan(v) else v

        layers: dict[str, AttentionStats] = {}
        for rec in cap.records:
            fields = {key: val(rec.site, key) for key in rec.values}
            nan_rows = fields.pop("nan_rows", None)
            layers[rec.site] = AttentionStats(
                observed=self.sites.get(rec.site, "unknown"),
                nan_rows=None if nan_rows is None else int(nan_rows),
                **fields,
            )
        report.layers = layers
        if layers:
            confirm_sites(self.sites, layers)
        report.grad_norms = dict(self._grad_norms)
        report.output_variance = val("", "output_variance")
        loss = val("", "loss")
        if loss is not None:
            report.loss = loss
        batch_keys = set(BatchStats.model_fields)
        batch = {k: val("", k) for (o, k) in names if o == "" and k in batch_keys}
        input_dim = self._input_dim or cap.input_dim
        if "list_count" in batch and batch["list_count"] is not None:
            batch["list_count"] = int(batch["list_count"])
        if batch.get("score_nonfinite") is not None:
            batch["score_nonfinite"] = int(batch["score_nonfinite"])
        report.batch = BatchStats(input_dim=input_dim, **batch)

        order = [
            (
                rec.site,
                values.get((rec.site, "bad_in"), 0.0) > 0,
                values.get((rec.site, "bad_out"), 0.0) > 0,
            )
            for rec in cap.records
        ]
        cheap = {k[6:]: v for (o, k), v in values.items() if o == "" and k.startswith("cheap_")}
        report.violations = checks.evaluate(
            step=self._step,
            config=self.config,
            layers=layers,
            order=order,
            input_bad=values.get(("", "input_bad"), 0.0) > 0,
            output_bad=values.get(("", "output_bad"), 0.0) > 0,
            score_nonfinite=val("", "score_nonfinite"),
            degenerate_share=val("", "degenerate_list_share"),
            cheap=cheap,
            cheap_since=self._cheap_since,
            uniform_streak=self._uniform_streak,
            batch=report.batch,
            grad_norms=report.grad_norms,
        )

    def _reset_step(self) -> None:
        if self.sampled:
            self._cheap = {}
            self._cheap_since = self._step + 1
        self._cap = _Capture()
        self._capturing = False
        self._captured = False
        self._forced = self._force_next
        self._force_next = False
        self._step += 1

    def _distributed(self, report: StepReport) -> StepReport:
        dist = torch.distributed
        if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return report
        from attnlint.guard.distributed import reduce_report

        return reduce_report(report)

    def _is_writer(self) -> bool:
        dist = torch.distributed
        if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return True
        from attnlint.guard.distributed import is_writer

        return bool(is_writer())

    def _plateau_update(self, report: StepReport, loss: Any, diagnose: bool) -> None:
        cfg = self.config
        if report.loss is not None:
            self._losses.append(report.loss)
            del self._losses[: -max(4 * cfg.plateau_patience, 200)]
        if diagnose and report.sampled:
            try:
                from attnlint.guard.diagnosis import diagnose_chain

                report.diagnosis = list(diagnose_chain(report, list(self._losses), self.loss_fn))
            except ImportError:
                pass
        self._diagnose_next = False
        if cfg.plateau_patience <= 0 or report.loss is None:
            return
        if self._plateau is None:
            try:
                from attnlint.guard.plateau import PlateauDetector
            except ImportError:
                return
            self._plateau = PlateauDetector(cfg.plateau_patience, cfg.plateau_min_delta)
        if self._plateau.update(report.loss):
            self._force_next = True
            self._diagnose_next = True

    def _write(self, report: StepReport) -> None:
        if self._outputs and self._is_writer():
            self._outputs.write(report, self._header)

    def _header(self) -> dict[str, Any]:
        return {
            "attnlint_version": __version__,
            "schema_version": SCHEMA_VERSION,
            "model": type(self.model).__name__,
            "sites": dict(self.sites),
            "untraceable": dict(self.untraceable),
            "config": self.config.model_dump(),
            "input_dim": self._input_dim or self._cap.input_dim,
            **site_sources(self.model, self.sites),
        }

    def _handle(self, violations: list[Violation]) -> None:
        self._policy.handle(violations)


def _sdpa_signature(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> None:
    """Parameter names of F.scaled_dot_product_attention (a builtin without a signature)."""
