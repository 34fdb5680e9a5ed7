"""The project index, phase 2: pending findings decided from the modules' summaries.

No file is parsed here. A pending finding names its callee as written (imports applied);
it is resolved, in order, as

* ``self.m`` / ``cls.m``: a method of the calling method's class, or of its base classes
  (followed through the same resolution, so a base class in another module counts);
* a bare or dotted local name: a function nested in the caller, a module-level function,
  ``Class.method``, or ``Class`` itself (its ``__init__``);
* an imported name (``from pkg.models import build``, ``import pkg.models as m; m.build``,
  relative imports): the module is found from the importing file's package root, its
  folder, or the project roots, and the rest of the name is looked up in it, following
  re-exports (``from .factory import build`` in ``pkg/models/__init__.py``).

Modules that are not among the checked files are asked of ``load`` (the runner answers
from the cache, or by parsing just that module): never the whole tree. A fact found on a
callee's parameter or return also counts when the callee hands that parameter on (or
returns the result of a call) to a function that has it, up to ``MAX_DEPTH`` calls.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from attnlint.lint.diagnostic import Diagnostic
from attnlint.lint.index import (
    ANY_PARAM,
    PART_FACTS,
    RETURN,
    FunctionSummary,
    ModuleSummary,
    Pending,
    position_of,
)

MAX_DEPTH = 3  # calls followed from the call site: the callee, its callee, and one more

Loader = Callable[[Path], ModuleSummary | None]


@dataclass(slots=True)
class Module:
    path: Path | None
    display: str
    name: str  # dotted module name ("" when unknown)
    package: str  # what a relative import is relative to
    root: Path | None  # the folder the top-level package lives in
    summary: ModuleSummary


def module_name(path: Path) -> tuple[str, str, Path]:
    """Dotted name, package and root folder of ``path``, from its ``__init__.py`` chain."""
    parts = [] if path.stem == "__init__" else [path.stem]
    folder = path.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        if folder.parent == folder:
            break
        folder = folder.parent
    name = ".".join(parts)
    package = name if path.stem == "__init__" else name.rpartition(".")[0]
    return name, package, folder


@dataclass(slots=True)
class Target:
    module: Module
    function: FunctionSummary
    bound: bool  # called on an instance (``self.m``, ``Class(...)``): ``self`` is filled


class Project:
    """The checked modules' summaries plus whatever their imports reach (via ``load``)."""

    def __init__(
        self,
        roots: Iterable[Path] = (),
        load: Loader | None = None,
        cwd: Path | None = None,
        max_depth: int = MAX_DEPTH,
    ) -> None:
        self.roots = [_absolute_path(r) for r in roots]
        self.load = load
        self.cwd = cwd
        self.max_depth = max_depth
        self._by_path: dict[Path, Module] = {}
        self._by_name: dict[tuple[Path | None, str], Module | None] = {}
        self._placed: set[tuple[object, ...]] = set()  # at_callee findings already made

    def add(self, path: Path | None, display: str, summary: ModuleSummary) -> Module:
        """A checked module (``path`` None for text with no file, e.g. ``lint_source``)."""
        if path is None:
            module = Module(None, display, "", "", None, summary)
            return module
        path = _absolute_path(path)
        name, package, root = module_name(path)
        module = Module(path, display, name, package, root, summary)
        self._by_path[path] = module
        return module

    def module(self, path: Path) -> Module | None:
        """The module at ``path``: already known, else summarised by ``load``."""
        path = _absolute_path(path)
        return self._by_path.get(path) or self._load(path)

    # -- deciding ----------------------------------------------------------------------

    def decide(
        self,
        module: Module,
        pendings: Iterable[Pending],
        taken: Iterable[tuple[str, int, int]] = (),
    ) -> list[Diagnostic]:
        """The pending findings of ``module`` whose condition holds, as Diagnostics; one
        per code and position, none where ``taken`` (code, line, column) already has one.
        A finding made ``at_callee`` has the callee's path (one per callee position)."""
        out: list[Diagnostic] = []
        seen = set(taken)
        placed = self._placed
        for pending in pendings:
            if (pending.code, pending.line, pending.column) in seen:
                continue
            target = self.lookup(module, pending.callee, pending.scope, self.max_depth)
            if target is None:
                continue
            slot = _param_for(target, pending.slot)
            if slot is None:
                continue
            found = self.fact(target, pending.fact, slot, self.max_depth - 1)
            if found is None:
                continue
            where, detail = position_of(found)
            if detail in pending.unless or (pending.among and detail not in pending.among):
                continue
            callee = f"{_shown(target.function)} ({target.module.display}:{target.function.line})"
            caller = f"{pending.scope or 'module level'} ({module.display}:{pending.line})"
            message = pending.message.replace("{callee}", callee).replace("{caller}", caller)
            message = message.replace("{detail}", detail)
            seen.add((pending.code, pending.line, pending.column))
            if pending.at_callee:
                if where is None or (pending.code, target.module.display, *where) in placed:
                    continue
                placed.add((pending.code, target.module.display, *where))
                out.append(Diagnostic(pending.code, message, target.module.display, *where))
                continue
            out.append(
                Diagnostic(
                    pending.code,
                    message,
                    module.display,
                    pending.line,
                    pending.column,
                    pending.end_line,
                    pending.end_column,
                )
            )
        return out

    def fact(self, target: Target, fact: str, param: str, depth: int) -> str | None:
        """The detail of ``fact`` on ``param`` of the target (or of a function it hands the
        parameter on to, ``depth`` calls deep); None when it does not hold."""
        function = target.function
        found = function.facts.get(fact)
        if found:
            if param == ANY_PARAM:
                for name, detail in found.items():
                    if name != RETURN and not (target.bound and name == _self(function)):
                        return detail or name
            elif param in found:
                return found[param] or param
        if depth <= 0:
            return None
        if param == RETURN:
            for callee in function.returns:
                inner = self.lookup(target.module, callee, function.name, depth)
                if inner is not None:
                    detail = self.fact(inner, fact, RETURN, depth - 1)
                    if detail is not None:
                        return detail
            return None
        for flow in function.flows:
            if param != ANY_PARAM and flow.param != param:
                continue
            if flow.part and fact not in PART_FACTS:
                continue
            inner = self.lookup(target.module, flow.callee, function.name, depth)
            if inner is None:
                continue
            slot = _param_for(inner, flow.slot)
            if slot is not None:
                detail = self.fact(inner, fact, slot, depth - 1)
                if detail is not None:
                    return detail
        return None

    # -- resolving names ---------------------------------------------------------------

    def lookup(self, module: Module, dotted: str, scope: str, depth: int) -> Target | None:
        """The function ``dotted``, called from function ``scope`` of ``module``."""
        head, _, rest = dotted.partition(".")
        if head in ("self", "cls") and rest and "." not in rest:
            caller = module.summary.functions.get(scope)
            if caller is None or caller.klass is None:
                return None
            return self._method(module, caller.klass, rest, depth)
        if head not in module.summary.imports:
            return self._local(module, dotted, scope, depth)
        return self._imported(module, _through_imports(module, dotted), depth)

    def _local(self, module: Module, dotted: str, scope: str, depth: int) -> Target | None:
        summary = module.summary
        prefixes = scope.split(".") if scope else []
        for cut in range(len(prefixes), -1, -1):
            name = ".".join([*prefixes[:cut], dotted])
            if name in summary.functions:
                function = summary.functions[name]
                return Target(module, function, False)
            if name in summary.classes:
                return self._method(module, name, "__init__", depth)
        return None

    def _method(self, module: Module, klass: str, name: str, depth: int) -> Target | None:
        function = module.summary.functions.get(f"{klass}.{name}")
        if function is not None:
            return Target(module, function, True)
        if depth <= 0:
            return None
        for base in module.summary.classes.get(klass, []):
            found = self._class(module, base, depth - 1)
            if found is not None:
                target = self._method(found[0], found[1], name, depth - 1)
                if target is not None:
                    return target
        return None

    def _class(self, module: Module, dotted: str, depth: int) -> tuple[Module, str] | None:
        """The module and qualified name of the class ``dotted`` names."""
        if dotted.partition(".")[0] not in module.summary.imports:
            return (module, dotted) if dotted in module.summary.classes else None
        found = self._split(module, self._absolute(module, _through_imports(module, dotted)))
        if found is None:
            return None
        other, rest = found
        if rest in other.summary.classes:
            return other, rest
        if depth > 0 and rest.partition(".")[0] in other.summary.imports:
            return self._class(other, rest, depth - 1)  # a re-export
        return None

    def _imported(self, module: Module, full: str, depth: int) -> Target | None:
        """``full``: a name with its head replaced by what ``module`` imports it as."""
        found = self._split(module, self._absolute(module, full))
        if found is None:
            return None
        other, rest = found
        target = self._local(other, rest, "", depth)
        if target is not None or depth <= 0:
            return target
        if rest.partition(".")[0] in other.summary.imports:  # a re-export
            return self._imported(other, _through_imports(other, rest), depth - 1)
        return None

    def _absolute(self, module: Module, full: str) -> str:
        """``full`` with a relative import's leading dots resolved against the package."""
        if not full.startswith("."):
            return full
        dots = len(full) - len(full.lstrip("."))
        base = module.package.split(".") if module.package else []
        if dots > 1:
            base = base[: len(base) - (dots - 1)]
        return ".".join([*base, full[dots:]]) if base else full[dots:]

    def _split(self, module: Module, dotted: str) -> tuple[Module, str] | None:
        """The longest prefix of ``dotted`` that is a module we can find, and the rest."""
        parts = dotted.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            other = self._find(module, ".".join(parts[:cut]))
            if other is not None:
                return other, ".".join(parts[cut:])
        return None

    def _find(self, importer: Module, name: str) -> Module | None:
        roots: list[Path] = []
        for root in (importer.root, importer.path.parent if importer.path else None):
            if root is not None and root not in roots:
                roots.append(root)
        roots += [r for r in self.roots if r not in roots]
        key = (roots[0] if roots else None, name)
        if key in self._by_name:
            return self._by_name[key]
        found: Module | None = None
        relative = Path(*name.split("."))
        for root in roots:
            for candidate in (root / relative.with_suffix(".py"), root / relative / "__init__.py"):
                if candidate in self._by_path:
                    found = self._by_path[candidate]
                    break
                if candidate.is_file():
                    found = self._load(candidate)
                    break
            if found is not None:
                break
        self._by_name[key] = found
        return found

    def _load(self, path: Path) -> Module | None:
        if self.load is None:
            return None
        summary = self.load(path)
        if summary is None:
            return None
        display = path.as_posix()
        if self.cwd is not None:
            with contextlib.suppress(ValueError):
                display = path.relative_to(self.cwd).as_posix()
        return self.add(path, display, summary)


def _absolute_path(path: Path) -> Path:
    # Not ``resolve()``: a symlinked tree keeps its own paths (and its display paths).
    return Path(os.path.abspath(path))


def _through_imports(module: Module, dotted: str) -> str:
    head, dot, tail = dotted.partition(".")
    full = module.summary.imports.get(head, head)
    return f"{full}.{tail}" if dot else full


def _self(function: FunctionSummary) -> str | None:
    if function.klass is None or function.static or not function.params:
        return None
    return function.params[0]


def _param_for(target: Target, slot: str) -> str | None:
    """The callee parameter a call's ``slot`` fills (``RETURN`` and ``**`` pass through)."""
    if slot in (RETURN, ANY_PARAM):
        return slot
    params = target.function.params
    if slot.isdigit():
        kwonly_from = next((i for i, p in enumerate(params) if p.startswith("*")), len(params))
        positional = params[:kwonly_from]
        index = int(slot) + (1 if target.bound and _self(target.function) else 0)
        return positional[index] if index < len(positional) else None
    if slot in params:
        return slot
    return next((p for p in params if p.startswith("**")), None)


def _shown(function: FunctionSummary) -> str:
    if function.name.endswith(".__init__"):
        return function.name[: -len(".__init__")]
    return function.name
