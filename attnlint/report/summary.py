"""``attnlint report``: the run log as a terminal summary (rich; plain text when piped).

Order follows what a person needs first: the verdict and violations, the chain diagnosis,
then each attention site over time with its healthy range, then batch statistics and
gradient norms (what one would otherwise log by hand).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from attnlint.records import StepReport, Violation
from attnlint.report.ranges import BATCH, Band, attention_bands
from attnlint.report.runlog import RunLog

_SPARKS = "▁▂▃▄▅▆▇█"


def select_steps(log: RunLog, last: int | None = None) -> list[StepReport]:
    steps = [s for s in log.steps if s.sampled]
    return steps[-last:] if last else steps


def losses(steps: Sequence[StepReport]) -> list[float | None]:
    """Each step's loss; NaN/inf where the run log says it was not finite (the log writes
    such a loss as null and keeps its text in ``loss_nonfinite``)."""
    out: list[float | None] = []
    for s in steps:
        text = getattr(s, "loss_nonfinite", None)
        out.append(float(text) if isinstance(text, str) and s.loss is None else s.loss)
    return out


def nonfinite_steps(steps: Sequence[StepReport]) -> list[int]:
    """Steps whose loss was NaN/inf or that reported non-finite scores."""
    return [
        s.step
        for s, loss in zip(steps, losses(steps), strict=True)
        if (loss is not None and not math.isfinite(loss))
        or any(v.check == "finite_scores" for v in s.violations)
    ]


def loss_trend(steps: Sequence[StepReport]) -> str:
    """``loss 8.884 -> 2.675``; a last loss that is not finite is named as such."""
    values = losses(steps)
    known = [(s.step, v) for s, v in zip(steps, values, strict=True) if v is not None]
    if len(known) < 2:
        return ""
    (_, first), (last_step, last) = known[0], known[-1]
    text = f"loss {_fmt(first)} -> {_fmt(last)}"
    if not math.isfinite(last):
        finite = [(k, v) for k, v in known if math.isfinite(v)]
        bad_from = next(k for k, v in known if not math.isfinite(v))
        text += f" (not finite from step {bad_from}"
        text += f"; last finite {_fmt(finite[-1][1])} at step {finite[-1][0]})" if finite else ")"
    elif values[-1] is None:
        text += f" (step {last_step}; no loss recorded after it)"
    return text


def verdict(log: RunLog, steps: Sequence[StepReport] | None = None) -> str:
    """One line: is this run healthy, and if not, what broke first and where."""
    steps = list(steps if steps is not None else select_steps(log))
    if not steps:
        return f"{log.name}: no sampled steps in the run log"
    trend = loss_trend(steps)
    loss = f"; {trend}" if trend else ""
    violations = [v for s in steps for v in s.violations]
    if not violations:
        return f"{log.name}: no violations in {len(steps)} sampled steps{loss}"
    first = min(violations, key=lambda v: v.step)
    checks = sorted({v.check for v in violations})
    return (
        f"{log.name}: {_count(len(violations), 'violation')} ({', '.join(checks)}); first "
        f"{first.check} at {first.site} on step {first.step}{loss}"
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


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
            "loss": losses(steps),
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


def thin(values: Sequence[Any], width: int = 24) -> list[Any]:
    """At most ``width`` evenly spaced values, always keeping the last."""
    if len(values) <= width:
        return list(values)
    idx = {round(i * (len(values) - 1) / (width - 1)) for i in range(width)}
    return [values[i] for i in sorted(idx)]


def _picks(n: int, narrow: bool) -> list[int]:
    # At 80 columns three value columns leave no room for the names and the trend.
    return sorted({0, n - 1} if narrow else {0, n // 2, n - 1})


NARROW = 100  # below this many columns the tables show the first and last step only
_CHROME = 3  # per column: a border and one space of padding either side


def _series_table(
    console: Console,
    title: str,
    steps: Sequence[StepReport],
    rows: Mapping[str, Sequence[float | None]],
    bands: Mapping[str, Band],
    tbox: box.Box,
) -> None:
    """Statistic names and values never wrap or shrink (a cut name or a split number is
    misread); the healthy-range notes wrap on words; the trend gets the columns left."""
    if not rows:
        return
    picks = _picks(len(steps), console.width < NARROW)
    notes = {stat: bands.get(stat, Band()).text() for stat in rows}
    cells = {
        stat: [(_fmt(values[i]), bands.get(stat, Band()).contains(values[i], steps[i].step))
               for i in picks]
        for stat, values in rows.items()
    }  # fmt: skip
    name_width = max(len("statistic"), *(len(stat) for stat in rows))
    note_words = [len(word) for note in notes.values() for word in note.split()]
    show_notes = bool(note_words)
    note_width = max([len("healthy"), *note_words]) if show_notes else 0
    value_widths = [
        max(len(f"step {steps[i].step}"), *(len(cells[s][k][0]) + 1 for s in rows))
        for k, i in enumerate(picks)
    ]
    columns = 2 + len(picks) + show_notes
    fixed = name_width + note_width + sum(value_widths) + _CHROME * columns + 1
    most = 12 if console.width < NARROW else 24  # at 80 columns the notes need the room more
    trend_width = max(6, min(most, console.width - fixed))
    # the notes take any room the trend does not need, so they wrap less
    note_room = max(note_width, console.width - (fixed - note_width) - trend_width)
    longest_note = max((len(n) for n in notes.values()), default=0)

    table = Table(title=title, title_justify="left", box=tbox, title_style="bold")
    table.add_column("statistic", no_wrap=True, min_width=name_width)
    if show_notes:
        table.add_column(
            "healthy",
            style="dim",
            min_width=note_width,
            max_width=max(note_width, min(note_room, longest_note)),
        )
    for k, i in enumerate(picks):
        table.add_column(
            f"step {steps[i].step}", justify="right", no_wrap=True, min_width=value_widths[k]
        )
    table.add_column("trend", no_wrap=True, overflow="crop", min_width=min(6, trend_width))
    for stat, values in rows.items():
        row: list[Text | str] = [stat, notes[stat]] if show_notes else [stat]
        for text, inside in cells[stat]:
            # Out of range: red on a terminal, a trailing "!" in plain text.
            out = inside is False
            mark = "!" if out and not console.is_terminal else ""
            row.append(Text(text + mark, style="red" if out else ""))
        row.append(sparkline(thin(values, trend_width)))
        table.add_row(*row)
    console.print()
    console.print(table)


_REDUNDANT = (
    # The report prints the check, site, step, value and bound itself; a message that
    # repeats them (the guard's log line does) would say everything twice.
    re.compile(r"^\[[a-z_]+\]\s*"),
    re.compile(r"^step \d+, site '[^']*':\s*"),
    re.compile(r"\s*\(value [^()]*, bound [^()]*\)"),
)


def clean_message(message: str) -> str:
    text = " ".join(message.split())
    for pattern in _REDUNDANT:
        text = pattern.sub("", text)
    return text


def _violations(
    console: Console, steps: Sequence[StepReport], site: str | None, tbox: box.Box
) -> None:
    """One entry per (check, site): the first occurrence carries the evidence, the later
    ones are counted with their step range. Printed as wrapped text, not a table, so a long
    message reads as a paragraph at any width."""
    violations = [v for s in steps for v in s.violations if site is None or v.site == site]
    if not violations:
        return
    groups: dict[tuple[str, str], list[Violation]] = {}
    for v in violations:
        groups.setdefault((v.check, v.site), []).append(v)
    console.print()
    console.print(Text(f"violations ({len(violations)})", style="bold red"))
    for (check, where), group in sorted(groups.items(), key=lambda kv: kv[1][0].step):
        first, last = group[0], group[-1]
        span = (
            f"step {first.step}"
            if len(group) == 1
            else f"steps {first.step}..{last.step} ({len(group)}x)"
        )
        head = Text.assemble((check, "bold red"), f" at {where}, {span}")
        evidence = f"value {_fmt(first.value)}, bound {_fmt(first.bound)}"
        if len(group) > 1:
            evidence = f"first {evidence}"
            if _fmt(last.value) != _fmt(first.value):
                evidence += f"; last {_fmt(last.value)}"
        console.print(head)
        console.print(Padding(Text(f"{evidence}: {clean_message(first.message)}"), (0, 0, 0, 2)))


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
