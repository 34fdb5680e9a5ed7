"""``attnlint report``: the run log as a terminal summary (rich; plain text when piped).

Order follows what a person needs first: the verdict and violations, the chain diagnosis,
then each attention site over time with its healthy range, then batch statistics and
gradient norms (the seed investigation's hand-written logs).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from attnlint.records import StepReport, Violation
from attnlint.report.ranges import BATCH, Band, attention_bands
from attnlint.report.runlog import RunLog

_SPARKS = "▁▂▃▄▅▆▇█"


def select_steps(log: RunLog, last: int | None = None) -> list[StepReport]:
    steps = [s for s in log.steps if s.sampled]
    return steps[-last:] if last else steps


def verdict(log: RunLog, steps: Sequence[StepReport] | None = None) -> str:
    """One line: is this run healthy, and if not, what broke first and where."""
    steps = list(steps if steps is not None else select_steps(log))
    if not steps:
        return f"{log.name}: no sampled steps in the run log"
    losses = [s.loss for s in steps if s.loss is not None]
    loss = f"; loss {losses[0]:.4g} -> {losses[-1]:.4g}" if len(losses) >= 2 else ""
    violations = [v for s in steps for v in s.violations]
    if not violations:
        return f"{log.name}: no violations in {len(steps)} sampled steps{loss}"
    first = min(violations, key=lambda v: v.step)
    checks = sorted({v.check for v in violations})
    return (
        f"{log.name}: {len(violations)} violations ({', '.join(checks)}); first "
        f"{first.check} at {first.site} on step {first.step}{loss}"
    )


def render(
    log: RunLog,
    console: Console,
    *,
    site: str | None = None,
    last: int | None = None,
) -> None:
    steps = select_steps(log, last)
    plain = not console.is_terminal
    tbox = box.ASCII if plain else box.SIMPLE_HEAD

    header = log.header
    facts = [f"run log {log.path}", f"attnlint {header.get('attnlint_version', '?')}"]
    facts += [f"{k} {header[k]}" for k in ("model", "seed") if k in header]
    if steps:
        facts.append(f"{len(steps)} sampled steps ({steps[0].step}..{steps[-1].step})")
    console.print(Text(log.name, style="bold"), Text(" · ".join(facts), style="dim"))
    for w in log.warnings:
        console.print(Text(f"warning: {w}", style="yellow"))
    bad = any(s.violations for s in steps)
    console.print(Text(verdict(log, steps), style="bold red" if bad else "bold green"))
    if not steps:
        return

    _violations(console, steps, site, tbox)
    _diagnosis(console, steps)
    sites = [site] if site else _sites(steps)
    bands = attention_bands(header)
    for name in sites:
        rows = {
            stat: [_get(s.layers.get(name), stat) for s in steps]
            for stat in bands
            if any(_get(s.layers.get(name), stat) is not None for s in steps)
        }
        observed = next((s.layers[name].observed for s in steps if name in s.layers), "?")
        _series_table(console, f"site {name} (observed: {observed})", steps, rows, bands, tbox)
    if site is None:
        rows = {
            stat: [_get(s.batch, stat) for s in steps]
            for stat in BATCH
            if any(_get(s.batch, stat) is not None for s in steps)
        }
        extra = {
            "loss": [s.loss for s in steps],
            "output_variance": [s.output_variance for s in steps],
        }
        rows.update({k: v for k, v in extra.items() if any(x is not None for x in v)})
        batch_bands = {**BATCH, "output_variance": Band(note="~0: pooled output constant")}
        _series_table(console, "batch", steps, rows, batch_bands, tbox)
        modules = list(dict.fromkeys(m for s in steps for m in s.grad_norms))
        rows = {m: [s.grad_norms.get(m) for s in steps] for m in modules}
        _series_table(console, "gradient norms (before clipping)", steps, rows, {}, tbox)


def _sites(steps: Sequence[StepReport]) -> list[str]:
    return list(dict.fromkeys(site for s in steps for site in s.layers))


def _get(record: Any, stat: str) -> float | None:
    if record is None:
        return None
    value = getattr(record, stat, None)
    return float(value) if isinstance(value, int | float) else None


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value == int(value) and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.4g}"


def sparkline(values: Sequence[float | None]) -> str:
    """One character per value, scaled between the series' min and max; ' ' for missing."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return ""
    lo, hi = min(finite), max(finite)
    out = []
    for v in values:
        if v is None or not math.isfinite(v):
            out.append(" ")
        elif hi == lo:
            out.append(_SPARKS[3])
        else:
            out.append(_SPARKS[round((v - lo) / (hi - lo) * (len(_SPARKS) - 1))])
    return "".join(out)


def _thin(values: Sequence[Any], width: int = 24) -> list[Any]:
    """At most ``width`` evenly spaced values, always keeping the last."""
    if len(values) <= width:
        return list(values)
    idx = {round(i * (len(values) - 1) / (width - 1)) for i in range(width)}
    return [values[i] for i in sorted(idx)]


def _picks(n: int) -> list[int]:
    return sorted({0, n // 2, n - 1})


def _series_table(
    console: Console,
    title: str,
    steps: Sequence[StepReport],
    rows: Mapping[str, Sequence[float | None]],
    bands: Mapping[str, Band],
    tbox: box.Box,
) -> None:
    if not rows:
        return
    picks = _picks(len(steps))
    table = Table(title=title, title_justify="left", box=tbox, title_style="bold")
    table.add_column("statistic")
    table.add_column("healthy", style="dim")
    for i in picks:
        table.add_column(f"step {steps[i].step}", justify="right")
    table.add_column("trend")
    for stat, values in rows.items():
        band = bands.get(stat, Band())
        cells: list[Text | str] = [stat, band.text()]
        for i in picks:
            # Out of range: red on a terminal, a trailing "!" in plain text.
            out = band.contains(values[i], step=steps[i].step) is False
            mark = "!" if out and not console.is_terminal else ""
            cells.append(Text(_fmt(values[i]) + mark, style="red" if out else ""))
        cells.append(sparkline(_thin(values)))
        table.add_row(*cells)
    console.print()
    console.print(table)


def _violations(
    console: Console, steps: Sequence[StepReport], site: str | None, tbox: box.Box
) -> None:
    violations = [v for s in steps for v in s.violations if site is None or v.site == site]
    if not violations:
        return
    # One row per (check, site): the first occurrence carries the evidence; later ones
    # repeat it, so they are counted rather than listed.
    groups: dict[tuple[str, str], list[Violation]] = {}
    for v in violations:
        groups.setdefault((v.check, v.site), []).append(v)
    table = Table(
        title=f"violations ({len(violations)})",
        title_justify="left",
        box=tbox,
        title_style="bold red",
    )
    for col in ("check", "site", "steps", "value", "bound", "message"):
        table.add_column(col, overflow="fold", justify="right" if col == "value" else "left")
    for (check, where), group in sorted(groups.items(), key=lambda kv: kv[1][0].step):
        first, last = group[0], group[-1]
        span = str(first.step) if len(group) == 1 else f"{first.step}..{last.step} ({len(group)}x)"
        table.add_row(
            Text(check, style="red"),
            where,
            span,
            _fmt(first.value),
            _fmt(first.bound),
            first.message,
        )
    console.print()
    console.print(table)


def _diagnosis(console: Console, steps: Sequence[StepReport]) -> None:
    diagnosed = [s for s in steps if s.diagnosis]
    if not diagnosed:
        return
    latest = diagnosed[-1]
    console.print()
    console.print(Text(f"chain diagnosis (step {latest.step}), broken link first", style="bold"))
    for i, line in enumerate(latest.diagnosis):
        console.print(Text(f"  {i + 1}. {line}", style="red" if i == 0 else ""))


def make_console(file: Any = None, width: int | None = None) -> Console:
    console = Console(file=file, width=width, highlight=False, soft_wrap=False)
    if width is None and not console.is_terminal and "COLUMNS" not in os.environ:
        # Piped into a file or a pager: rich would assume 80 columns and wrap every table.
        console.width = 120
    return console
