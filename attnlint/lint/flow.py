"""Function-local value flow: follow a value through the assignments of one scope.

Attention and loss code names a tensor on one line and uses it three lines later
(``scores = q @ k.mT`` ... ``scores = scores.masked_fill(...)`` ... ``softmax(scores)``),
so a rule that looks at one expression alone misses most real code. A ``ScopeFlow`` is
the scope (a function body, or a module's top level) flattened into ordered ``Step``s,
one per simple statement or compound-statement header, each with the names it binds and
reads. On it, ``origins`` walks back from an expression to the assignments that produced
it and ``forward`` walks on to the steps that use a value.

This is deliberately not a data-flow analysis: no control-flow graph, no aliasing, no
loops carried around. Definitions in a branch that does not enclose the use are kept (a
value *may* come from there), which is the conservative choice for rules that must stay
silent when any path is safe. Built only for scopes where a rule found a candidate.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import libcst as cst

from attnlint.lint.helpers import assigned_names
from attnlint.lint.rule import Rule, RuleContext
from attnlint.lint.vocab import SCORE_TOKENS, callee_last, name_tokens
from attnlint.lint.walk import children

# The rules built on flows import the vocabulary from here too.
__all__ = ["SCORE_TOKENS", "ScopeFlow", "ScopedRule", "Step", "callee_last", "name_tokens"]

Scope = cst.FunctionDef | cst.Module


@dataclass(frozen=True, slots=True, eq=False)
class Step:
    """One statement (or compound header) of a scope, in source order."""

    index: int
    node: cst.CSTNode  # small statement, or the header expression of If/For/While/With
    statement: cst.CSTNode  # what holds it: a SimpleStatementLine or a compound statement
    binds: frozenset[str]
    reads: frozenset[str]
    value: cst.BaseExpression | None  # the assigned / evaluated / tested expression
    calls: tuple[cst.Call, ...]  # every call inside, outermost first
    blocks: tuple[cst.CSTNode, ...]  # enclosing suites inside the scope, outermost first
    loops: tuple[cst.For | cst.While, ...] = ()
    mutates: frozenset[str] = frozenset()  # ``scores.div_(d)``: changed in place

    def rebinds(self, name: str) -> bool:
        """Whether ``name`` gets a new value here (assigned, or changed in place)."""
        return name in self.binds or name in self.mutates

    def encloses(self, other: Step) -> bool:
        """True when this step's block nesting is a prefix of ``other``'s: it runs
        whenever ``other`` does (loops aside)."""
        return other.blocks[: len(self.blocks)] == self.blocks


def _collect(nodes: Iterable[cst.CSTNode]) -> tuple[set[str], list[cst.Call]]:
    """Names read and calls made inside expressions, calls outermost first (nested scopes
    included: a lambda reading ``scores`` still reads it)."""
    names: set[str] = set()
    calls: list[cst.Call] = []
    stack = list(reversed(list(nodes)))
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Name):
            names.add(node.value)
        elif isinstance(node, cst.Attribute | cst.Arg):
            stack.append(node.value)  # an attribute name or a keyword is not a read
        else:
            if isinstance(node, cst.Call):
                calls.append(node)
            stack.extend(reversed(list(children(node))))
    return names, calls


def read_names(node: cst.CSTNode) -> set[str]:
    """Variable names read in ``node``: attribute names and keywords excluded."""
    return _collect([node])[0]


def _mutated(calls: list[cst.Call]) -> list[str]:
    """Names changed by an in-place method: ``x.masked_fill_(...)``, ``q.mul_(s)``."""
    out: list[str] = []
    for call in calls:
        func = call.func
        if (
            isinstance(func, cst.Attribute)
            and isinstance(func.value, cst.Name)
            and func.attr.value.endswith("_")
            and not func.attr.value.startswith("_")
        ):
            out.append(func.value.value)
    return out


class ScopeFlow:
    """A scope as ordered steps, with lookups by call and by bound name."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.steps: list[Step] = []
        self._step_of_call: dict[int, int] = {}
        body = scope.body.body if isinstance(scope, cst.FunctionDef) else scope.body
        if isinstance(body, tuple | list):
            self._walk(body, (), ())
        else:  # ``def f(): return x`` on one line
            self._walk_simple(body, scope, (), ())

    # -- building ---------------------------------------------------------------------

    def _add(
        self,
        node: cst.CSTNode,
        statement: cst.CSTNode,
        blocks: tuple[cst.CSTNode, ...],
        loops: tuple[cst.For | cst.While, ...],
        binds: list[str],
        value: cst.BaseExpression | None,
        extra_reads: tuple[cst.CSTNode, ...] = (),
    ) -> None:
        names, calls = _collect([value, *extra_reads] if value is not None else extra_reads)
        step = Step(
            index=len(self.steps),
            node=node,
            statement=statement,
            binds=frozenset(binds),
            reads=frozenset(names),
            value=value,
            calls=tuple(calls),
            blocks=blocks,
            loops=loops,
            mutates=frozenset(_mutated(calls)),
        )
        for call in calls:
            self._step_of_call[id(call)] = step.index
        self.steps.append(step)

    def _walk(
        self,
        body: object,
        blocks: tuple[cst.CSTNode, ...],
        loops: tuple[cst.For | cst.While, ...],
    ) -> None:
        for stmt in body:  # type: ignore[attr-defined]
            if isinstance(stmt, cst.SimpleStatementLine):
                self._walk_simple(stmt, stmt, blocks, loops)
            elif isinstance(stmt, cst.FunctionDef | cst.ClassDef):
                continue  # its own scope
            elif isinstance(stmt, cst.If):
                self._walk_if(stmt, blocks, loops)
            elif isinstance(stmt, cst.For):
                inner = (*loops, stmt)
                self._add(stmt, stmt, blocks, loops, assigned_names(stmt.target), stmt.iter)
                self._suite(stmt.body, blocks, inner)
                if stmt.orelse is not None:
                    self._suite(stmt.orelse.body, blocks, loops)
            elif isinstance(stmt, cst.While):
                inner = (*loops, stmt)
                self._add(stmt, stmt, blocks, inner, [], stmt.test)
                self._suite(stmt.body, blocks, inner)
                if stmt.orelse is not None:
                    self._suite(stmt.orelse.body, blocks, loops)
            elif isinstance(stmt, cst.With):
                for item in stmt.items:
                    binds = assigned_names(item.asname.name) if item.asname is not None else []
                    self._add(item, stmt, blocks, loops, binds, item.item)
                self._suite(stmt.body, blocks, loops)
            elif isinstance(stmt, cst.Try | cst.TryStar):
                self._suite(stmt.body, blocks, loops)
                for handler in stmt.handlers:
                    self._suite(handler.body, blocks, loops)
                if stmt.orelse is not None:
                    self._suite(stmt.orelse.body, blocks, loops)
                if stmt.finalbody is not None:
                    self._suite(stmt.finalbody.body, blocks, loops)

    def _walk_if(
        self, stmt: cst.If, blocks: tuple[cst.CSTNode, ...], loops: tuple[cst.For | cst.While, ...]
    ) -> None:
        self._add(stmt, stmt, blocks, loops, [], stmt.test)
        self._suite(stmt.body, blocks, loops)
        if isinstance(stmt.orelse, cst.If):
            self._walk_if(stmt.orelse, (*blocks, stmt.orelse), loops)
        elif stmt.orelse is not None:
            self._suite(stmt.orelse.body, blocks, loops)

    def _suite(
        self,
        suite: cst.BaseSuite,
        blocks: tuple[cst.CSTNode, ...],
        loops: tuple[cst.For | cst.While, ...],
    ) -> None:
        inner = (*blocks, suite)
        if isinstance(suite, cst.IndentedBlock):
            self._walk(suite.body, inner, loops)
        else:  # ``if x: a = 1; b = 2`` on one line
            self._walk_simple(suite, suite, inner, loops)

    def _walk_simple(
        self,
        line: cst.SimpleStatementLine | cst.SimpleStatementSuite | cst.CSTNode,
        statement: cst.CSTNode,
        blocks: tuple[cst.CSTNode, ...],
        loops: tuple[cst.For | cst.While, ...],
    ) -> None:
        for small in getattr(line, "body", ()):
            if isinstance(small, cst.Assign):
                binds: list[str] = []
                extra: list[cst.CSTNode] = []
                for target in small.targets:
                    names = assigned_names(target.target)
                    binds.extend(names)
                    if not names:  # ``x[m] = 0`` / ``self.a = b`` read x / self
                        extra.append(target.target)
                self._add(small, statement, blocks, loops, binds, small.value, tuple(extra))
            elif isinstance(small, cst.AugAssign):
                binds = assigned_names(small.target)
                self._add(small, statement, blocks, loops, binds, small.value, (small.target,))
            elif isinstance(small, cst.AnnAssign):
                binds = assigned_names(small.target)
                self._add(small, statement, blocks, loops, binds, small.value)
            elif isinstance(small, cst.Expr | cst.Return):
                self._add(small, statement, blocks, loops, [], small.value)
            elif isinstance(small, cst.Assert):
                reads = (small.msg,) if small.msg is not None else ()
                self._add(small, statement, blocks, loops, [], small.test, reads)
            elif isinstance(small, cst.Raise):
                self._add(small, statement, blocks, loops, [], small.exc)
            else:  # pass / continue / break / del / global / import
                self._add(small, statement, blocks, loops, [], None)

    # -- queries ----------------------------------------------------------------------

    def step_of(self, call: cst.Call) -> Step | None:
        """The step whose expression holds ``call``."""
        index = self._step_of_call.get(id(call))
        return self.steps[index] if index is not None else None

    def definitions(self, name: str, before: int) -> list[Step]:
        """Steps binding ``name`` that may reach step ``before``, nearest first.

        Walks back and stops at the first definition that encloses the use and is not an
        augmented assignment (``x *= s`` depends on the ``x`` before it)."""
        use = self.steps[before] if before < len(self.steps) else None
        out: list[Step] = []
        for step in reversed(self.steps[:before]):
            if not step.rebinds(name):
                continue
            out.append(step)
            if (
                name in step.binds
                and not isinstance(step.node, cst.AugAssign)
                and name not in step.reads
                and (use is None or step.encloses(use))
            ):
                break
        return out

    def origins(
        self, expr: cst.BaseExpression, at: int, depth: int = 8
    ) -> tuple[list[cst.BaseExpression], list[Step]]:
        """``expr`` and every expression it was derived from within the scope: the values
        of the definitions reaching step ``at`` of each name it reads, recursively, up to
        ``depth`` assignments back. Also returns the defining steps (augmented
        assignments carry their operator there)."""
        exprs: list[cst.BaseExpression] = [expr]
        steps: list[Step] = []
        seen: set[int] = set()
        frontier: list[tuple[set[str], int, int]] = [(read_names(expr), at, 0)]
        while frontier:
            names, where, level = frontier.pop()
            if level >= depth:
                continue
            for name in sorted(names):
                for step in self.definitions(name, where):
                    if step.index in seen:
                        continue
                    seen.add(step.index)
                    steps.append(step)
                    if step.value is not None:
                        exprs.append(step.value)
                    frontier.append((set(step.reads), step.index, level + 1))
        return exprs, steps

    def forward(self, names: set[str], start: int) -> Iterator[tuple[Step, frozenset[str]]]:
        """Steps after ``start`` that read a value derived from ``names``, with the
        derived names each one reads. Assignments from such a value extend the set; an
        unconditional rebinding from unrelated values ends it."""
        live = set(names)
        origin = self.steps[start]
        for step in self.steps[start + 1 :]:
            if not live:
                return
            used = step.reads & live
            if used:
                yield step, frozenset(used)
                live |= step.binds
            elif step.binds & live and step.encloses(origin):
                live -= step.binds


def bound_value(step: Step, name: str) -> cst.BaseExpression | None:
    """The part of ``step``'s value that ``name`` gets: in ``q, k, v = qkv[0] * s, qkv[1],
    qkv[2]`` ``q`` is bound to ``qkv[0] * s`` alone (so ``k`` is not "scaled" by it);
    otherwise the whole value."""
    node = step.node
    value = step.value
    if (
        isinstance(node, cst.Assign)
        and len(node.targets) == 1
        and isinstance(value, cst.Tuple | cst.List)
        and isinstance(node.targets[0].target, cst.Tuple | cst.List)
    ):
        targets = node.targets[0].target.elements  # type: ignore[union-attr]
        values = value.elements
        if len(targets) == len(values) and not any(
            isinstance(e, cst.StarredElement) for e in (*targets, *values)
        ):
            for target, element in zip(targets, values, strict=True):
                if isinstance(target.value, cst.Name) and target.value.value == name:
                    return element.value
    return value


@lru_cache(maxsize=32)
def scope_flow(scope: Scope) -> ScopeFlow:
    """The flow of ``scope``, built once and shared by every rule of the pass."""
    return ScopeFlow(scope)


class ScopedRule(Rule):
    """A rule that collects candidate nodes while the engine walks the tree and analyses
    them per scope when the scope is left, so the flow is built only for scopes with a
    candidate. Subclasses call ``self.candidate(node)`` and define ``analyse``."""

    def __init__(self, context: RuleContext, options: Any | None = None) -> None:
        super().__init__(context, options)
        self._scopes: list[tuple[Scope, str | None]] = []
        self._found: dict[int, list[cst.CSTNode]] = {}
        self._classes: list[str] = []

    def candidate(self, node: cst.CSTNode) -> None:
        if self._scopes:
            self._found.setdefault(id(self._scopes[-1][0]), []).append(node)

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        # fail when the rule module is imported, not silently on the first file
        if cls.analyse is ScopedRule.analyse:
            raise TypeError(f"{cls.__name__} must define analyse(flow, nodes, class_name)")

    def analyse(self, flow: ScopeFlow, nodes: list[cst.CSTNode], class_name: str | None) -> None:
        """Check the candidate ``nodes`` one scope reported, with that scope's flow."""

    def _enter(self, scope: Scope) -> None:
        self._scopes.append((scope, self._classes[-1] if self._classes else None))

    def _leave(self) -> None:
        scope, class_name = self._scopes.pop()
        nodes = self._found.pop(id(scope), None)
        if nodes:
            self.analyse(scope_flow(scope), nodes, class_name)

    def visit_Module(self, node: cst.Module) -> None:
        self._enter(node)

    def leave_Module(self, original_node: cst.Module) -> None:
        self._leave()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._classes.append(node.name.value)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self._classes.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._enter(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._leave()
