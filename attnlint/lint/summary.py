"""The project index, phase 1: the generic part of each function's summary.

``Indexer`` runs first in the engine's one batched pass over a file. Per function and
method it records the parameters, the line of the ``def``, which parameters are handed on
unchanged to which callee (``flows``) and which calls' results are returned
(``returns``). Calls the index could never follow (a library's functions, methods of local
objects, builtins) are not recorded, which keeps summaries small. The rules add facts and
pending findings through ``FileIndex`` (``attnlint.lint.index``).
"""

from __future__ import annotations

from collections.abc import Mapping

import libcst as cst

from attnlint.lint.dims import config_key
from attnlint.lint.index import FileIndex, Flow, FunctionSummary, _dotted, call_slots

# Libraries a project never defines its own functions in: calls into them are not
# followed (nor stored: summaries stay small).
LIBRARIES = frozenset(
    (  # noqa: SIM905 (a word list reads better as one string)
        "torch numpy np math os sys re json logging functools itertools collections typing "
        "dataclasses warnings inspect copy pathlib random time jax tensorflow scipy einops "
        "builtins abc enum contextlib operator pickle"
    ).split()
)
_BUILTINS = frozenset(
    (  # noqa: SIM905
        "print len int float str bool list dict set tuple range enumerate zip map filter "
        "isinstance issubclass getattr setattr hasattr super type min max sum any all abs "
        "round sorted reversed iter next repr hash id callable vars open format divmod"
    ).split()
)


def resolvable(written: str, imports: Mapping[str, str]) -> bool:
    """Whether phase 2 could resolve a call written ``written``: ``helper``, ``self.m``,
    ``Class.m``, an imported name; not ``x.view`` on a local object, a builtin, or a
    library function."""
    head, dot, rest = written.partition(".")
    if head in ("self", "cls"):
        return bool(rest) and "." not in rest
    if head in imports:
        return imports[head].lstrip(".").partition(".")[0] not in LIBRARIES or (
            imports[head].startswith(".")
        )
    if not dot:
        return head not in _BUILTINS
    return head[:1].isupper()


def _params(function: cst.FunctionDef) -> list[str]:
    p = function.params
    names = [param.name.value for param in (*p.posonly_params, *p.params)]
    if isinstance(p.star_arg, cst.Param):
        names.append("*" + p.star_arg.name.value)
    names += [param.name.value for param in p.kwonly_params]
    if p.star_kwarg is not None:
        names.append("**" + p.star_kwarg.name.value)
    return names


_COPIES = frozenset({"dict", "copy.copy", "copy.deepcopy"})


def part_of(value: cst.BaseExpression) -> tuple[str | None, bool]:
    """The name ``value`` is, or is a part of (``cfg.model``, ``cfg["model"]``: True)."""
    if isinstance(value, cst.Name):
        return value.value, False
    node = value
    while isinstance(node, cst.Attribute | cst.Subscript):
        if isinstance(node, cst.Subscript) and not all(
            isinstance(e.slice, cst.Index) and isinstance(e.slice.value, cst.SimpleString)
            for e in node.slice
        ):
            return None, False  # ``x[0]``, ``x[:, 1]``: a tensor's slice, not a config's part
        node = node.value
    return (node.value, True) if isinstance(node, cst.Name) and node is not value else (None, False)


def _copy_of(value: cst.BaseExpression, target: cst.BaseExpression) -> bool:
    """``params = dict(params)``, ``params.copy()``, ``copy.deepcopy(params)``,
    ``{**params}``: a factory's defensive copy, still the value the caller passed."""
    if not isinstance(target, cst.Name):
        return False
    name = target.value
    if isinstance(value, cst.Dict):
        elements = value.elements
        return (
            len(elements) == 1
            and isinstance(elements[0], cst.StarredDictElement)
            and isinstance(elements[0].value, cst.Name)
            and elements[0].value.value == name
        )
    if not isinstance(value, cst.Call):
        return False
    func = value.func
    if isinstance(func, cst.Attribute) and func.attr.value == "copy" and not value.args:
        return isinstance(func.value, cst.Name) and func.value.value == name
    callee = _dotted(func, {})
    return (
        callee in _COPIES
        and len(value.args) == 1
        and isinstance(value.args[0].value, cst.Name)
        and value.args[0].value.value == name
        and value.args[0].star == ""
    )


class Indexer(cst.BatchableCSTVisitor):
    """Builds the generic part of a module's summary; the engine runs it before the rules,
    so a rule's ``visit_FunctionDef`` already finds the function's summary."""

    def __init__(self, index: FileIndex) -> None:
        super().__init__()
        self.index = index
        self._stack: list[tuple[cst.CSTNode, str]] = []  # (def or class, qualified name)
        self._functions: list[FunctionSummary] = []
        self._rebound: list[set[str]] = []
        self._registries: dict[str, list[str]] = {}  # module-level name -> the classes

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        name = self._qualify(node.name.value)
        bases = [_dotted(base.value, {}) for base in node.bases if not base.keyword]
        self.index.summary.classes[name] = [b for b in bases if b]
        self._stack.append((node, name))

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self._stack.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        name = self._qualify(node.name.value)
        klass = (
            self._stack[-1][1]
            if self._stack and isinstance(self._stack[-1][0], cst.ClassDef)
            else None
        )
        static = any(
            isinstance(d.decorator, cst.Name) and d.decorator.value == "staticmethod"
            for d in node.decorators
        )
        summary = FunctionSummary(
            name, self.index._def_line(node.name.value), _params(node), klass, static
        )
        self.index.summary.functions.setdefault(name, summary)
        self.index._by_node[id(node)] = summary
        self._stack.append((node, name))
        self._functions.append(summary)
        self._rebound.append(set())

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._stack.pop()
        summary = self._functions.pop()
        rebound = self._rebound.pop()
        if rebound:
            summary.flows = [f for f in summary.flows if f.param.lstrip("*") not in rebound]

    def _qualify(self, name: str) -> str:
        return f"{self._stack[-1][1]}.{name}" if self._stack else name

    def visit_Call(self, node: cst.Call) -> None:
        current = self._functions[-1] if self._functions else None
        self.index._call_scope[id(node)] = current
        if current is None or not node.args:
            return
        params = current.params
        callee: str | None = None
        for slot, value in call_slots(node):
            root, part = part_of(value)
            if root is None or (part and root in ("self", "cls")):
                continue  # ``self.num_features``: the object's own, not a configuration
            if part and config_key(value) is not None:
                continue  # ``Net(cfg.model.in_dim)``: a width, AL201's own call site
            param = root if root in params else "**" + root
            if param not in params:
                continue
            if callee is None:
                callee = _dotted(node.func, {}) or self._registered(node.func)
                if callee is None or not resolvable(callee, self.index.summary.imports):
                    return
            current.flows.append(Flow(param, callee, slot, part))

    def _registered(self, func: cst.BaseExpression) -> str | None:
        """``MODELS[name](...)`` where the module binds ``MODELS`` to a dict of one class
        (or function): that class. A registry of several is not guessed from."""
        if isinstance(func, cst.Subscript) and isinstance(func.value, cst.Name):
            found = self._registries.get(func.value.value)
            if found is not None and len(found) == 1:
                return found[0]
        return None

    def visit_Assign(self, node: cst.Assign) -> None:
        if self._functions:
            for target in node.targets:
                if not _copy_of(node.value, target.target):
                    self._rebind(target.target)
            return
        value = node.value
        if len(node.targets) == 1 and isinstance(value, cst.Dict) and value.elements:
            target = node.targets[0].target
            names = [
                _dotted(e.value, {}) if isinstance(e, cst.DictElement) else None
                for e in value.elements
            ]
            if isinstance(target, cst.Name) and all(names):
                self._registries[target.value] = sorted(set(names))  # type: ignore[arg-type]

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if self._functions:
            self._rebind(node.target)

    def _rebind(self, target: cst.BaseExpression) -> None:
        # A parameter rebound in the body (``q = q * self.scale``) is no longer the value
        # the caller passed: what it is passed on as says nothing about the caller's value.
        if isinstance(target, cst.Name):
            self._rebound[-1].add(target.value)
        elif isinstance(target, cst.Tuple | cst.List):
            for element in target.elements:
                self._rebind(element.value)

    def visit_Return(self, node: cst.Return) -> None:
        if self._functions and isinstance(node.value, cst.Call):
            callee = _dotted(node.value.func, {})
            if callee is not None and resolvable(callee, self.index.summary.imports):
                self._functions[-1].returns.append(callee)
