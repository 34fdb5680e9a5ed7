"""Phase 2 of a run: the pending findings of the checked files, decided across files.

Runs in the parent process after every file has been linted or read from the cache.
Nothing happens (not even reading the summaries cache) unless some file has a pending
finding. Summaries come from this run's parses, then from the cache; a module that only
an import reaches (pre-commit passes just the changed files) is read, hashed and looked
up in the cache, and parsed on its own only when the cache does not have it. An AL401 or
AL402 finding in a helper that its callers in other checked modules decide (every one
scales q or k: ``attend(q * self.scale, k, v)``; every one builds the mask with a kept
column) is dropped or given the name of the caller that keeps it here
(``attnlint.lint.callervotes``), and so is an AL201 override handed to a helper that
compares it with the configured width first.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attnlint.lint.cache import Cache, content_key
from attnlint.lint.callers import CALLER_DECIDED
from attnlint.lint.callervotes import Votes
from attnlint.lint.diagnostic import Diagnostic
from attnlint.lint.dimreport import OVERRIDE_CHECKED
from attnlint.lint.index import PART_FACTS, RETURN, ModuleSummary, Pending, position_of
from attnlint.lint.project import Module, Project, Target, _param_for

# Facts whose pending findings drop a finding instead of adding one: an AL201 override
# passed to a helper that compares it with the configured width.
_QUIETING = frozenset({OVERRIDE_CHECKED})

if TYPE_CHECKING:
    from attnlint.lint.runner import FileResult, Job


def decide_pending(results: list[FileResult], job: Job, cache: Cache | None, cwd: Path) -> None:
    """Fill ``result.decided`` for every result with pending findings."""
    waiting = {
        id(r): [Pending.from_json(e) for e in r.entry if "when" in e]
        for r in results
        if r.error is None and any("when" in e for e in r.entry)
    }
    if not waiting:
        return
    # Summaries are read lazily, checked files included: only the modules the pending
    # findings and their callees reach are looked at.
    known = {Path(os.path.abspath(r.path)): r for r in results if r.error is None}
    loader = _Loader(job, cache, known)
    project = Project(roots=[job.per_file.root, cwd], load=loader, cwd=cwd)
    by_display = {r.display: r for r in results if r.error is None}
    checked = set(known)
    quiet: set[tuple[str, int, int, str]] = set()  # findings callers elsewhere make safe
    votes = Votes(project, checked)
    for result in results:
        pending = waiting.get(id(result))
        if pending and any(p.fact in CALLER_DECIDED for p in pending):
            votes.add(result, [p for p in pending if p.fact in CALLER_DECIDED])
            pending = [p for p in pending if p.fact not in CALLER_DECIDED]
        module = project.module(result.path) if pending else None
        if pending and module is not None:
            # A finding placed in the helper needs the helper's file among the checked
            # ones; otherwise its twin at the call (same position, next in the list) holds.
            pending = [
                p for p in pending if not p.at_callee or _placeable(project, module, p, checked)
            ]
            scaling = [p for p in pending if p.fact in _QUIETING]
            pending = [p for p in pending if p.fact not in _QUIETING]
            quiet |= {(d.path, d.line, d.column, d.code) for d in project.decide(module, scaling)}
            taken = [(e["code"], e["line"], e["column"]) for e in result.entry if "when" not in e]
            for found in project.decide(module, pending, taken):
                # A finding placed in the callee belongs to the callee's file, if checked.
                owner = by_display.get(found.path)
                if owner is not None and not _known(owner, found):
                    owner.decided.append(found)
    dropped, named = votes.decide()
    for path, line, column, code in quiet | dropped:
        owner = by_display[path]  # placed only in checked files
        # A new list: the cache may hold the old one.
        owner.entry = [
            e
            for e in owner.entry
            if "when" in e or (e["code"], e["line"], e["column"]) != (code, line, column)
        ]
    for (path, line, column, code), caller in named.items():
        owner = by_display[path]
        owner.entry = [
            {**e, "message": f"{e['message']}; {caller}"}
            if "when" not in e and (e["code"], e["line"], e["column"]) == (code, line, column)
            else e
            for e in owner.entry
        ]


def _placeable(project: Project, module: Module, pending: Pending, checked: set[Path]) -> bool:
    """The callee of ``pending`` is in a checked file and holds the fact itself, with a
    position (a fact it only inherits from a function it calls lies elsewhere)."""
    target = project.lookup(module, pending.callee, pending.scope, project.max_depth)
    if target is None or target.module.path not in checked:
        return False
    param = _param_for(target, pending.slot)
    return param is not None and _positioned(project, target, pending.fact, param, 2)


def _positioned(project: Project, target: Target, fact: str, param: str, depth: int) -> bool:
    """``fact`` on ``param`` of the target has a position in the target's own module:
    on the target itself, or on a function of that module it hands the value to."""
    function = target.function
    found = function.facts.get(fact, {}).get(param)
    if found is not None:
        return position_of(found)[0] is not None
    if depth <= 0:
        return False
    onward = [(callee, RETURN) for callee in function.returns] if param == RETURN else []
    onward += [
        (f.callee, f.slot)
        for f in function.flows
        if f.param == param and (not f.part or fact in PART_FACTS)
    ]
    for callee, slot in onward:
        inner = project.lookup(target.module, callee, function.name, depth)
        if inner is None or inner.module is not target.module:
            continue  # a position in another file: the diagnostic would name the wrong one
        inner_param = RETURN if slot == RETURN else _param_for(inner, slot)
        if inner_param and _positioned(project, inner, fact, inner_param, depth - 1):
            return True
    return False


def _known(owner: FileResult, found: Diagnostic) -> bool:
    """The owner already has this finding (its own, or one a caller placed there)."""
    at = (found.code, found.line, found.column)
    if any((e["code"], e["line"], e["column"]) == at for e in owner.entry if "when" not in e):
        return True
    return any((d.code, d.line, d.column) == at for d in owner.decided)


def _summary(data: Any) -> ModuleSummary | None:
    """A cached summary, or None when the cache holds something else (a torn or hand-edited
    file): a miss, never a crash."""
    try:
        return ModuleSummary.from_json(data)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


class _Loader:
    """Summaries of modules: a checked file's from this run or the cache; a module only an
    import reaches from the cache, else from parsing just that module."""

    def __init__(self, job: Job, cache: Cache | None, known: dict[Path, FileResult]) -> None:
        self.job = job
        self.cache = cache
        self.known = known

    def __call__(self, path: Path) -> ModuleSummary | None:
        result = self.known.get(path)
        if result is not None:  # a checked file: this run's summary, or the cached one
            data = result.summary
            if data is None and self.cache is not None and result.key is not None:
                data = self.cache.get_summary(result.key)
            summary = _summary(data) if data is not None else None
            if summary is not None:
                return summary
        from attnlint.lint.safeio import read_regular

        try:
            data = read_regular(path)  # an imported module that is a FIFO must not block
        except OSError:
            return None
        key = content_key(data)
        if self.cache is not None:
            cached = self.cache.get_summary(key)
            summary = _summary(cached) if cached is not None else None
            if summary is not None:
                return summary
        from attnlint.lint.isolation import summarise

        # parsed here when plain, else in a worker whose crash only loses this summary
        parsed = summarise(path, data, self.job)
        summary = _summary(parsed) if parsed is not None else None
        if summary is not None and self.cache is not None:
            self.cache.put_summary(key, parsed)
        return summary
