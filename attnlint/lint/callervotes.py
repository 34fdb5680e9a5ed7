"""Phase 2 for the findings that every caller decides (``callers.CALLER_DECIDED``): an
AL401 softmax whose q or k a caller may scale, an AL402 ``-inf`` fill whose mask a caller
may build with a column it never masks.

The helper (a module-level function that nothing in its own module calls) reports its
finding as written and records a fact on the parameter, at the finding, whose detail says
what protects it. Each call of an imported helper in a checked module records one pending
finding per argument: ``among`` lists what the argument has (``scaled``; the values of its
constant columns), ``message`` what to add to the helper's finding if this call is the
one that keeps it. A call protects the helper when one of its arguments has what the
helper's fact asks for. The finding is dropped when at least one call protects it and
every call does; when some protect and others do not, it stays and names the first call
that does not.

Calls that cannot protect (nothing in ``among``) are resolved only for helpers some other
call protects, found by name first: most runs resolve none of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from attnlint.lint.index import ANY_PARAM, RETURN, Pending, position_of
from attnlint.lint.project import Module, Project, _param_for, _through_imports

if TYPE_CHECKING:
    from pathlib import Path

    from attnlint.lint.runner import FileResult

Position = tuple[str, int, int, str]  # (path, line, column, code) of the helper's finding
CallKey = tuple[str, int, int]  # (path, line, column) of the call


@dataclass(slots=True)
class _Vote:
    position: Position
    call: CallKey
    protects: bool
    message: str


@dataclass(slots=True)
class Votes:
    project: Project
    checked: set[Path]
    _items: list[tuple[FileResult, list[Pending]]] = field(default_factory=list)
    _helpers: dict[Position, str] = field(default_factory=dict)  # -> the helper's name

    def add(self, result: FileResult, pendings: list[Pending]) -> None:
        self._items.append((result, pendings))

    def decide(self) -> tuple[set[Position], dict[Position, str]]:
        """The helpers' findings to drop, and those that stay with a caller to name (the
        text to append)."""
        protected: dict[Position, set[CallKey]] = {}
        unprotected: dict[Position, dict[CallKey, str]] = {}

        def count(vote: _Vote) -> None:
            if vote.protects:
                protected.setdefault(vote.position, set()).add(vote.call)
            else:
                unprotected.setdefault(vote.position, {})[vote.call] = vote.message

        rest: list[tuple[FileResult, Pending]] = []
        for result, pendings in self._items:
            hopeful = [p for p in pendings if p.among]
            rest += [(result, p) for p in pendings if not p.among]
            module = self.project.module(result.path) if hopeful else None
            for pending in hopeful if module is not None else ():
                for vote in self._votes(module, pending):  # type: ignore[arg-type]
                    count(vote)
        if not protected:
            return set(), {}
        names = {self._helpers[position] for position in protected}
        for result, pending in rest:
            module = self.project.module(result.path)
            if module is None or _last(pending.callee, module) not in names:
                continue
            for vote in self._votes(module, pending):
                if vote.position in protected:
                    count(vote)
        quiet: set[Position] = set()
        named: dict[Position, str] = {}
        for position, calls in protected.items():
            against = {k: m for k, m in unprotected.get(position, {}).items() if k not in calls}
            if against:
                named[position] = against[min(against)]
            else:
                quiet.add(position)
        return quiet, named

    def _votes(self, module: Module, pending: Pending) -> Iterator[_Vote]:
        """What this call says about each finding of the helper it calls."""
        project = self.project
        target = project.lookup(module, pending.callee, pending.scope, project.max_depth)
        if target is None or target.module.path not in self.checked:
            return
        param = _param_for(target, pending.slot)
        facts = target.function.facts.get(pending.fact, {})
        if param is None or not facts:
            return
        params = [p for p in facts if p != RETURN] if param == ANY_PARAM else [param]
        call = (module.display, pending.line, pending.column)
        caller = f"{pending.scope or 'module level'} ({module.display}:{pending.line})"
        message = pending.message.replace("{caller}", caller)
        for name in params:
            if name not in facts:
                continue
            where, detail = position_of(facts[name])
            if where is None:
                continue
            position = (target.module.display, where[0], where[1], pending.code)
            self._helpers[position] = target.function.name.rpartition(".")[2]
            yield _Vote(position, call, detail in pending.among, message)


def _last(callee: str, module: Module) -> str:
    """The last part of the name a call calls, through the module's imports
    (``from .layers import attend as att``: ``att(...)`` calls ``attend``)."""
    return _through_imports(module, callee).rpartition(".")[2]
