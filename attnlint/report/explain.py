"""From a runtime violation to the line of code that explains it.

The run-log header records, per attention site, the module's class with its source file
and line (and the nearest enclosing module that is not torch's own), and the training
script. ``explain`` lints those files with the static rules and puts under each violation
(one entry per check and site) the findings whose mechanism produces it: AL402 under a NaN
row, AL401 / AL101 under one-hot collapse or logit growth, AL301 / AL302 under scores that
are scrubbed or pinned at a clamp, AL201 under an input mismatch, AL103 / AL104 under
gradient problems. Where none of those rules fires, the entry says so. Torch-free; uses
the lint engine (libcst).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from attnlint.report.runlog import RunLog

# check -> rules whose finding can cause it, most direct first
CAUSES: dict[str, tuple[str, ...]] = {
    "finite_scores": ("AL402", "AL301", "AL303"),
    "attention_mass": ("AL402",),
    "attention_entropy": ("AL401", "AL101"),
    "logit_growth": ("AL401", "AL101"),
    "uniform_attention": ("AL201",),
    "encoder_variance": ("AL201",),
    "constant_scores": ("AL301", "AL302", "AL201"),
    "score_scale": ("AL302", "AL101"),
    "grad_norm": ("AL103", "AL104", "AL301", "AL303"),
    "grad_spike": ("AL103", "AL104", "AL102", "AL101"),
    "residual_update": ("AL101",),
    "input_dim": ("AL201",),
    "relevance": (),
    "attention_sink": (),
}
# causes that live in the attention code itself: looked for in the site's own files only
_SITE_CODES = {"AL401", "AL402"}


@dataclass
class Explanation:
    check: str
    site: str
    severity: str
    first_step: int
    last_step: int
    count: int
    message: str
    checked: list[str]
    files: list[str]
    causes: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "site": self.site,
            "severity": self.severity,
            "first_step": self.first_step,
            "last_step": self.last_step,
            "count": self.count,
            "message": self.message,
            "checked_rules": self.checked,
            "checked_files": self.files,
            "causes": self.causes,
        }


def _under_torch(path: str) -> bool:
    parts = Path(path).parts
    return any(p == "torch" and i > 0 and "-packages" in parts[i - 1] for i, p in enumerate(parts))


def _site_files(header: dict[str, Any], site: str) -> list[str]:
    entry = (header.get("site_sources") or {}).get(site) or {}
    files = [entry.get("file"), (entry.get("owner") or {}).get("file")]
    return [f for f in files if f and not _under_torch(f)]


def _all_files(header: dict[str, Any]) -> list[str]:
    files: dict[str, None] = {}
    for site in header.get("site_sources") or {}:
        files.update(dict.fromkeys(_site_files(header, site)))
    for key in ("script", "caller"):  # the training script, the loop that stepped the guard
        if header.get(key):
            files[header[key]] = None
    return list(files)


def _lint(files: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    from attnlint.lint.engine import lint_source

    found: dict[str, list[dict[str, Any]]] = {}
    for name in files:
        try:
            source = Path(name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        found[name] = [d.to_json() for d in lint_source(source, _display(name))]
    return found


def _display(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def explain(log: RunLog) -> list[Explanation]:
    """One entry per (check, site) with violations, in order of first appearance."""
    header = log.header
    groups: dict[tuple[str, str], Explanation] = {}
    for step in log.steps:
        for v in step.violations:
            key = (v.check, v.site)
            e = groups.get(key)
            if e is None:
                groups[key] = Explanation(
                    v.check,
                    v.site,
                    getattr(v, "severity", "error"),
                    v.step,
                    v.step,
                    1,
                    v.message,
                    list(CAUSES.get(v.check, ())),
                    [],
                )
            else:
                e.count += 1
                e.last_step = v.step
    if not groups:
        return []
    everywhere = _all_files(header)
    findings = _lint(everywhere)
    for e in groups.values():
        own = _site_files(header, e.site)
        for code in e.checked:
            for name in own if code in _SITE_CODES and own else everywhere:
                e.causes += [d for d in findings.get(name, []) if d["code"] == code]
        e.files = [_display(f) for f in (own or everywhere) if f in findings] or [
            _display(f) for f in everywhere if f in findings
        ]
    return list(groups.values())


def render_text(explanations: Sequence[Explanation]) -> list[str]:
    """Plain lines (the terminal report prints them; 80 columns friendly)."""
    lines: list[str] = []
    for e in explanations:
        steps = (
            f"step {e.first_step}"
            if e.count == 1
            else (f"steps {e.first_step}-{e.last_step}, {e.count}x")
        )
        lines.append(f"{e.severity} {e.check} at {e.site} ({steps})")
        if e.causes:
            for d in e.causes:
                lines.append(
                    f"  cause? {d['path']}:{d['line']}:{d['column']}: {d['code']} {d['message']}"
                )
        elif not e.checked:
            lines.append("  no static rule covers this check")
        else:
            lines.append(f"  no static cause found ({', '.join(e.checked)} checked in:)")
            lines += [f"    {f}" for f in e.files] or ["    no readable source in the run log"]
    return lines


def print_explanations(log: RunLog, console: Any = None, json_output: bool = False) -> None:
    """The report command's explain section (text under the summary, or the JSON form)."""
    import json

    explanations = explain(log)
    if json_output:
        print(json.dumps({"run": log.name, "violations": [e.to_json() for e in explanations]}))
        return
    if not explanations:
        return
    lines = ["", "Static causes (attnlint check on the sources in the run log):"]
    lines += render_text(explanations)
    for line in lines:
        if console is None:
            print(line)
        else:
            console.print(line, markup=False, highlight=False, overflow="fold")
