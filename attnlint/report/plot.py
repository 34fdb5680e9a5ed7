"""``attnlint plot``: the 3x2 grid of per-layer attention diagnostics, from a run log.

matplotlib is an optional extra: this module imports it, so import this module lazily
(``attnlint.report.commands`` does). The Agg backend is selected here: the plot is always
written to a file, never shown.

Two layouts. With two or more attention sites the x axis is the site (layer), with one
line per sampled step (at most eight, evenly spaced) and the last step drawn bold. With a
single site (the reference DeepSetRank has one) a per-layer axis would hold one point, so
the x axis becomes the training step instead; ``x="layer"`` forces the per-layer layout
either way. NaN/inf steps (loss or scores) are marked: a NaN statistic draws no point.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import matplotlib

matplotlib.use("Agg")

from matplotlib import pyplot as plt

from attnlint.records import StepReport
from attnlint.report.ranges import ATTENTION, Band, attention_bands
from attnlint.report.runlog import RunLog
from attnlint.report.summary import nonfinite_steps, thin

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

XMode = Literal["layer", "step"]

# One colour per diagnostic, the same in every plot.
COLORS = {
    "entropy": "#7191A9",
    "effective_rank": "#B73C39",
    "top5": "#000000",
    "top10": "#CC8250",
    "top50": "#6B8D3A",
    "max_row_weight": "#34699D",
    "col_entropy": "#3D796E",
    "max_col_sum": "#4A9C60",
    "residual_ratio": "#3978B5",
}
BAND_COLOR = "#4CAF50"
VIOLATION_COLOR = "#D62728"
NONFINITE_COLOR = "#7B1FA2"
MAX_LINES = 8


class PlotError(ValueError):
    """A plot that cannot be drawn from this run log (one-line message)."""


def build_figure(log: RunLog, step: int | None = None, x: XMode | None = None) -> Figure:
    """The 3x2 diagnostics figure. ``step`` draws that sampled step alone (layer layout)."""
    steps = [s for s in log.steps if s.sampled and s.layers]
    if not steps:
        raise PlotError(f"{log.path}: no sampled step with attention statistics to plot")
    if step is not None:
        chosen = [s for s in steps if s.step == step]
        if not chosen:
            raise PlotError(
                f"{log.path}: step {step} not in the run log "
                f"(sampled steps {steps[0].step}..{steps[-1].step})"
            )
        steps, x = chosen, "layer"
    sites = log.sites
    mode: XMode = x or ("layer" if len(sites) >= 2 else "step")
    bands = attention_bands(log.header)

    fig, axes = plt.subplots(3, 2, figsize=(13, 11), layout="constrained")
    shown = {s.step for s in steps}
    sampled = [s for s in log.steps if s.sampled]
    nonfinite = [n for n in nonfinite_steps(sampled) if n in shown or mode == "step"]
    panels = _Panels(fig, axes.ravel().tolist(), sites, steps, mode, bands, nonfinite)
    panels.draw()
    n_viol = sum(len(s.violations) for s in steps)
    where = (
        f"step {steps[-1].step}" if len(steps) == 1 else f"steps {steps[0].step}..{steps[-1].step}"
    )
    status = f"{n_viol} violation{'' if n_viol == 1 else 's'}" if n_viol else "no violations"
    if nonfinite:
        status += f" · NaN/inf from step {nonfinite[0]}"
    fig.suptitle(
        f"attention diagnostics: {log.name} · {where} · {status}",
        fontsize=14,
        fontweight="bold",
        color=VIOLATION_COLOR if n_viol else "black",
    )
    return fig


def save_plot(
    log: RunLog,
    out: str | os.PathLike[str],
    step: int | None = None,
    x: XMode | None = None,
) -> None:
    fig = build_figure(log, step=step, x=x)
    try:
        fig.savefig(out, dpi=110)
    finally:
        plt.close(fig)


class _Panels:
    def __init__(
        self,
        fig: Figure,
        axes: list[Axes],
        sites: list[str],
        steps: list[StepReport],
        mode: XMode,
        bands: dict[str, Band],
        nonfinite: Sequence[int] = (),
    ) -> None:
        self.fig, self.axes, self.sites, self.steps = fig, axes, sites, steps
        self.mode, self.bands, self.nonfinite = mode, bands, list(nonfinite)

    def draw(self) -> None:
        ax_ent, ax_rank, ax_topk, ax_row, ax_col, ax_res = self.axes
        use_norm = self._has("normalized_entropy")
        ent = "normalized_entropy" if use_norm else "entropy"
        self._panel(
            ax_ent,
            "Attention entropy" + (" (H / log n)" if use_norm else " (nats)"),
            [(ent, COLORS["entropy"], "-")],
            band=self.bands[ent],
        )
        if use_norm:
            ax_ent.set_ylim(-0.03, 1.05)
        self._panel(
            ax_rank,
            "Effective rank exp(H)  [log scale]",
            [("effective_rank", COLORS["effective_rank"], "-")],
            log_y=True,
        )
        ax_rank.axhline(1.0, color="grey", ls=":", lw=1)
        _note(ax_rank, "1 = one-hot", 1.0)
        self._panel(
            ax_topk,
            "Top-k concentration",
            [
                ("top5", COLORS["top5"], "-"),
                ("top10", COLORS["top10"], "--"),
                ("top50", COLORS["top50"], ":"),
            ],
            legend_stats=True,
        )
        ax_topk.set_ylim(-0.03, 1.05)
        self._panel(
            ax_row,
            "Max row weight (one-hot detection)",
            [("max_row_weight", COLORS["max_row_weight"], "-")],
            band=self.bands["max_row_weight"],
        )
        ax_row.set_ylim(-0.03, 1.05)
        ax_row.axhline(1.0, color="grey", ls=":", lw=1)
        _note(ax_row, "1 = one-hot", 1.0)
        self._panel(
            ax_col,
            "Column entropy (sink detection)",
            [("col_entropy", COLORS["col_entropy"], "-")],
        )
        ax_col.set_ylabel("column entropy", color=COLORS["col_entropy"])
        twin = ax_col.twinx()
        self._lines(twin, [("max_col_sum", COLORS["max_col_sum"], "--")], label_steps=False)
        twin.set_ylabel("max column sum (dashed)", color=COLORS["max_col_sum"])
        has_res = self._has("residual_ratio")
        self._panel(
            ax_res,
            "Residual update ratio ||f(x) - x|| / ||x||  [log scale]",
            [("residual_ratio", COLORS["residual_ratio"], "-")],
            band=self.bands["residual_ratio"] if has_res else None,
            log_y=has_res,
        )
        if not has_res:
            ax_res.set_xlim(ax_ent.get_xlim())
            ax_res.set_yticks([])
            ax_res.text(
                0.5,
                0.5,
                "no residual blocks observed",
                transform=ax_res.transAxes,
                ha="center",
                va="center",
                color="grey",
            )
        if self.mode == "layer" and len(self.steps) > 1:
            ax_ent.legend(fontsize=8, loc="best", title="sampled step")
        elif self.mode == "step" and len(self.sites) > 1:
            ax_ent.legend(fontsize=8, loc="best", title="site")
        if self.nonfinite and self.mode == "step":
            ax_ent.text(
                0.01,
                0.03,
                f"hatched: NaN/inf loss or scores ({_steps_text(self.nonfinite)})",
                transform=ax_ent.transAxes,
                fontsize=8,
                color=NONFINITE_COLOR,
                va="bottom",
            )
        if any(s.violations for s in self.steps):
            ax_row.text(
                0.01,
                0.97,
                "red: steps/sites with violations",
                transform=ax_row.transAxes,
                fontsize=8,
                color=VIOLATION_COLOR,
                va="top",
            )

    def _has(self, stat: str) -> bool:
        return any(
            getattr(layer, stat, None) is not None
            for s in self.steps
            for layer in s.layers.values()
        )

    def _panel(
        self,
        ax: Axes,
        title: str,
        series: Sequence[tuple[str, str, str]],
        *,
        band: Band | None = None,
        log_y: bool = False,
        legend_stats: bool = False,
    ) -> None:
        ax.set_title(title, fontsize=11)
        ax.grid(True, alpha=0.3)
        if band is not None and (band.low is not None or band.high is not None):
            lo = band.low if band.low is not None else 0.0
            hi = band.high if band.high is not None else lo * 10
            span = ax.axhspan(lo, hi, color=BAND_COLOR, alpha=0.13, zorder=0)
            span.set_gid("healthy-band")
            span.set_label("_healthy")
            guide = " (rule of thumb)" if band.advisory else ""
            _note(ax, f"healthy {lo:g}-{hi:g}{guide}", hi, color="#2E7D32")
        if log_y:
            ax.set_yscale("log")
        self._lines(ax, series, label_steps=not legend_stats)
        if legend_stats:
            from matplotlib.lines import Line2D

            handles = [
                Line2D([], [], color=c, ls=ls, label=stat.replace("top", "top-"))
                for stat, c, ls in series
            ]
            ax.legend(handles=handles, fontsize=8, loc="best")
        self._mark_violations(ax)
        if log_y:
            from matplotlib.ticker import FuncFormatter

            # Plain numbers ("6", "0.3") rather than "6x10^0"; minor ticks at 2, 3, 5 only.
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.yaxis.set_minor_formatter(FuncFormatter(_minor_label))
        if self.mode == "layer":
            ax.set_xticks(range(len(self.sites)))
            ax.set_xticklabels(
                _short(self.sites),
                rotation=30 if len(self.sites) > 4 else 0,
                ha="right" if len(self.sites) > 4 else "center",
                fontsize=8,
            )
            ax.set_xlabel("attention site (layer)")
        else:
            ax.set_xlabel("training step")

    def _lines(
        self, ax: Axes, series: Sequence[tuple[str, str, str]], *, label_steps: bool
    ) -> None:
        if self.mode == "layer":
            shown = thin(self.steps, MAX_LINES)
            for i, rep in enumerate(shown):
                last = i == len(shown) - 1
                # Earlier steps fade in; the last is bold so "now" reads at a glance.
                alpha = 1.0 if last else 0.25 + 0.5 * i / max(1, len(shown) - 1)
                for j, (stat, color, ls) in enumerate(series):
                    ys = [_value(rep, site, stat) for site in self.sites]
                    label = None
                    if label_steps and j == 0:
                        label = f"step {rep.step}" + (" (last)" if last and len(shown) > 1 else "")
                    ax.plot(
                        range(len(self.sites)),
                        ys,
                        color=color,
                        ls=ls,
                        lw=2.6 if last else 1.2,
                        alpha=alpha,
                        marker="o",
                        ms=5 if last else 3,
                        label=label,
                    )
        else:
            xs = [s.step for s in self.steps]
            for k, site in enumerate(self.sites):
                for stat, color, ls in series:
                    ys = [_value(rep, site, stat) for rep in self.steps]
                    ax.plot(
                        xs,
                        ys,
                        color=color,
                        ls=ls,
                        lw=2.0,
                        alpha=1.0 if k == 0 else 0.6,
                        marker="o" if len(xs) < 40 else None,
                        ms=3,
                        label=site if label_steps else None,
                    )

    def _mark_violations(self, ax: Axes) -> None:
        """Shade where violations were reported: steps (step layout) or sites (layer)."""
        if self.mode == "layer":
            bad_sites = {v.site for v in self.steps[-1].violations}
            for i, site in enumerate(self.sites):
                if site in bad_sites:
                    ax.axvspan(i - 0.2, i + 0.2, color=VIOLATION_COLOR, alpha=0.12, zorder=0)
            return
        xs = [s.step for s in self.steps]
        flags = [bool(s.violations) for s in self.steps]
        _shade(ax, xs, flags, color=VIOLATION_COLOR, alpha=0.08, lw=0, zorder=0)
        if self.nonfinite:
            every, bad = sorted({*xs, *self.nonfinite}), set(self.nonfinite)
            style = {"facecolor": "none", "edgecolor": NONFINITE_COLOR, "hatch": "//", "alpha": 0.5}
            flags = [x in bad for x in every]
            _shade(ax, every, flags, gid="nonfinite-step", lw=0, zorder=1, **style)


def _shade(ax: Axes, xs: Sequence[int], flags: Sequence[bool], gid: str = "", **style: Any) -> None:
    """One span per run of flagged steps, reaching half the sampling interval either side,
    so a run of bad steps reads as one block."""
    i = 0
    while i < len(xs):
        if not flags[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(xs) and flags[j + 1]:
            j += 1
        left = (xs[i] - xs[i - 1]) / 2 if i > 0 else 0.5
        right = (xs[j + 1] - xs[j]) / 2 if j + 1 < len(xs) else 0.5
        span = ax.axvspan(xs[i] - left, xs[j] + right, **style)
        if gid:
            span.set_gid(gid)
        i = j + 1


def _steps_text(steps: Sequence[int]) -> str:
    return f"step {steps[0]}" if len(steps) == 1 else f"{len(steps)} steps, {steps[0]}..{steps[-1]}"


def _value(rep: StepReport, site: str, stat: str) -> float:
    layer = rep.layers.get(site)
    value = getattr(layer, stat, None) if layer is not None else None
    # NaN breaks the line where a site was not observed instead of inventing a value.
    return float(value) if isinstance(value, int | float) else math.nan


def _minor_label(value: float, _pos: object) -> str:
    if value <= 0:
        return ""
    lead = round(value / 10 ** math.floor(math.log10(value)), 6)
    return f"{value:g}" if lead in (2.0, 3.0, 5.0) else ""


def _note(ax: Axes, text: str, y: float, color: str = "grey") -> None:
    ax.annotate(
        text,
        xy=(1.0, y),
        xycoords=("axes fraction", "data"),
        xytext=(-4, 2),
        textcoords="offset points",
        ha="right",
        va="bottom",
        fontsize=8,
        color=color,
    )


def _short(sites: Sequence[str]) -> list[str]:
    """Drop the prefix all site names share so the tick labels stay legible."""
    if len(sites) < 2:
        return list(sites)
    parts = [s.split(".") for s in sites]
    shared = 0
    while all(len(p) > shared + 1 and p[shared] == parts[0][shared] for p in parts):
        shared += 1
    return [".".join(p[shared:]) for p in parts]


__all__ = ["ATTENTION", "PlotError", "build_figure", "save_plot"]
