"""AL201 unchecked-input-dim: a configured input dimension never compared with the data.

Shapes of one bug (seed 000: ``model_a.stat_dim: 21`` in the config, the model built from
the first batch's ``player_stats.shape[-1]``, the two never compared):

(a) a dimension read from configuration is handed to a model or layer as its input size,
    and nothing in the module compares it with a tensor's ``shape`` / ``size()``;
(b) the configured value is overridden by the data's shape without comparing the two;
(c) across functions (through the project index, ``attnlint.lint.index``): the data's
    width passed to a project helper that lets it override the configured width, or to a
    model constructor's input size while the configuration holds its own; a configuration
    object handed to a model whose ``__init__`` reads its input size from it.

Kept conservative: only names that say "input" (``stat_dim``, ``input_dim``,
``in_features``...), only configuration-looking sources, model code (methods of model
classes, a model's own ``config``) is never the call site, and any comparison in the
module between that name and a shape silences it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import libcst as cst

from attnlint.lint.dimreport import INPUT, OVERRIDE_CHECKED
from attnlint.lint.dims import (
    INPUT_KEYS,
    MODEL_NAMES,
    NOT_MODELS,
    chain_words,
    config_key,
    has_shape,
    is_config_word,
    is_input_key,
    literal_config_keys,
    read_from_config,
    reads_checked,
    shape_reads,
)
from attnlint.lint.dimsite import Sites
from attnlint.lint.helpers import is_test_path
from attnlint.lint.index import call_slots
from attnlint.lint.modelclass import is_model_class
from attnlint.lint.rule import Rule, RuleContext, dotted_name
from attnlint.lint.summary import resolvable

__all__ = ["UncheckedInputDim", "is_input_key"]


def _is_model_call(context: RuleContext, call: cst.Call, local_models: set[str]) -> bool:
    qualname = context.qualname(call.func)
    if qualname is None:
        return False
    last = qualname.rsplit(".", 1)[-1]
    if NOT_MODELS.search(last):
        return False
    if qualname.startswith("torch.nn.") and last[:1].isupper():
        return True
    return last in local_models or bool(MODEL_NAMES.search(last))


def _builds_model(context: RuleContext, call: cst.Call, local_models: set[str]) -> bool:
    """A model/layer constructor or a model-building function (``build_model(...)``)."""
    if _is_model_call(context, call, local_models):
        return True
    qualname = context.qualname(call.func) or ""
    last = qualname.rsplit(".", 1)[-1]
    if NOT_MODELS.search(last):
        return False
    return any(word in last.lower() for word in ("model", "net", "encoder"))


@dataclass(slots=True)
class _Candidate:
    node: cst.CSTNode
    key: str
    message: str
    call: cst.Call | None = None
    # An override is only a bug where a configured value exists: in this scope (an id), or
    # anywhere in the module (0).
    needs_config: int | None = None
    is_override: bool = False
    scope: int = 0  # id of the enclosing function (or module)
    # The call's slot the value fills when only the callee's parameter can say it is an
    # input width (phase 2 decides, from the index fact ``INPUT`` on that parameter).
    slot: str | None = None


class UncheckedInputDim(Rule):
    code = "AL201"
    name = "unchecked-input-dim"
    summary = (
        "a model built with a configured input dimension that is never compared with the "
        "data's shape[-1], or silently overridden by it"
    )
    # The cross-function shapes start at a call that hands on the data's width or a
    # configuration object, in files that may name no dimension: "shape", "cfg", "config".
    triggers = (
        "dim",
        "features",
        "input_size",
        "in_channels",
        "d_in",
        "n_input",
        "num_input",
        "feats",
        "shape",
        ".size(",
        "cfg",
        "config",
        "params",
    )
    triggers += tuple(sorted(INPUT_KEYS - {"in_channels", "input_size", "d_in"}))  # ``in_chans``

    def __init__(self, context: RuleContext, options: Any | None = None) -> None:
        super().__init__(context, options)
        self._skip = is_test_path(context.path)
        self._scopes: list[cst.CSTNode] = [context.module]
        self._bound: dict[tuple[int, str], str] = {}  # (scope, name) -> configured key
        self._configured: dict[int, set[str]] = {0: set()}  # scope id (0: module) -> keys
        self._checked: set[str] = set()  # tokens of comparisons that involve a shape
        self._data_checked: set[str] = set()  # ... of the data's shape, not a parameter
        self._local_models: set[str] = set()
        self._candidates: list[_Candidate] = []
        self._in_model: list[bool] = []
        self._class_names: list[str] = []
        self._sites = Sites(self)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._scopes.append(node)
        storage = bool(self._class_names) and bool(NOT_MODELS.search(self._class_names[-1]))
        self._sites.enter(
            node, in_model=any(self._in_model), in_class=bool(self._in_model), storage=storage
        )

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._scopes.pop()
        self._sites.leave(original_node)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        is_model = is_model_class(node, self.context.qualname)
        if is_model:
            self._local_models.add(node.name.value)
        self._in_model.append(is_model)
        self._class_names.append(node.name.value)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self._in_model.pop()
        self._class_names.pop()

    def visit_Comparison(self, node: cst.Comparison) -> None:
        sites = self._sites
        if has_shape(node) or sites.mentions_data(node):
            self._checked |= self._sites.tokens(node)
            sites.shape_checks |= shape_reads(node)
            self._data_checked |= self._sites.tokens(node)
        elif sites.checks_input_param(node):
            # ``stat_dim_override != stat_dim`` checks the configured width that function
            # builds with; a neighbour that lets an override win is still unchecked.
            self._checked |= self._sites.tokens(node)
        self._sites.compared(node)

    def _key_of(self, value: cst.BaseExpression) -> str | None:
        key = config_key(value)
        if key is None and isinstance(value, cst.Name):
            key = self._bound.get((id(self._scopes[-1]), value.value))
        return key

    def visit_Assign(self, node: cst.Assign) -> None:
        for key in literal_config_keys(node):
            self._note_configured(key)
        key = config_key(node.value)
        for target in node.targets:
            if isinstance(target.target, cst.Name) and key is not None:
                self._bound[(id(self._scopes[-1]), target.target.value)] = key
                self._note_configured(key)
            elif not isinstance(node.value, cst.Comparison) and (
                has_shape(node.value) or self._sites.is_width(node.value)
            ):  # ``cfg["in_dim"] = x.shape[-1]``, or a name bound to the width
                self._check_override(target.target, node.value)
            self._sites.assigned(target.target, node.value)

    def visit_Call(self, node: cst.Call) -> None:
        key = config_key(node)
        if key is not None:
            self._note_configured(key)
        self._sites.handed(node)
        if not any(self._in_model) and not self._skip:
            self._sites.call(node)
        slots = {id(value): slot for slot, value in call_slots(node)}
        for position, arg in enumerate(node.args):
            if arg.star:
                continue
            keyword = arg.keyword.value if arg.keyword is not None else None
            if keyword is not None and has_shape(arg.value):
                if is_input_key(keyword):
                    self._override_argument(node, keyword, arg.value)
                continue
            if keyword is not None and not is_input_key(keyword):
                continue
            found = self._key_of(arg.value)
            if found is None or any(self._in_model) or self._sites.own_config(arg.value):
                continue
            local_models = self._local_models
            # Known here: the first positional argument of a model or layer, or an input
            # width named by keyword. Elsewhere (a later position, a callee named like no
            # model) only the index can say, from the parameter the argument fills, and only
            # for a function or class the index can follow: a library's is not flagged.
            direct = (
                _is_model_call(self.context, node, local_models)
                if keyword is None
                else _builds_model(self.context, node, local_models)
            ) and (keyword is not None or position == 0)
            written = dotted_name(node.func)
            if not direct and (  # kept to configuration read in a module that sees data
                written is None
                or not resolvable(written, self.context.imports)
                or id(arg.value) not in slots
                or not read_from_config(arg.value)
                or not self._sites.sees_data()
            ):
                continue
            if self._sites.from_caller(arg.value, found):
                continue
            callee = self.context.code_for(node.func).strip()
            shown = self.context.code_for(arg.value).strip()
            # Phase 2 fills ``{detail}`` (the parameter) and ``{callee}`` (with its place).
            size = f"of {callee}" if direct else "`{detail}` of {callee}, called here,"
            self._candidates.append(
                _Candidate(
                    arg.value,
                    found,
                    call=node,
                    scope=id(self._scopes[-1]),
                    message=f"input size {size} comes from configuration ({shown}) and nothing "
                    f"in this module compares `{found}` with the data's shape[-1]: assert they "
                    "match where the first batch is seen, or a changed feature pipeline trains "
                    "a model on misaligned inputs",
                    slot=None if direct else slots[id(arg.value)],
                )
            )

    def visit_Subscript(self, node: cst.Subscript) -> None:
        key = config_key(node)
        if key is not None:
            self._note_configured(key)
            self._sites.config_read(node, key)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        key = config_key(node)
        if key is not None:
            self._note_configured(key)
            self._sites.config_read(node, key)
        elif is_input_key(node.attr.value) and self._sites.aliased(node.value):
            self._sites.config_read(node, node.attr.value)  # ``c = config`` ... ``c.in_dim``

    def _note_configured(self, key: str) -> None:
        self._configured[0].add(key)
        self._configured.setdefault(id(self._scopes[-1]), set()).add(key)

    def _check_override(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        """``cfg["stat_dim"] = x.shape[-1]`` or ``stat_dim = x.shape[-1]`` after
        ``stat_dim = cfg["stat_dim"]``."""
        key = config_key(target)
        if key is None and isinstance(target, cst.Name):
            key = self._bound.get((id(self._scopes[-1]), target.value))
        if key is None:
            return
        self._candidates.append(
            _Candidate(
                value,
                key,
                self._override_message(key, value),
                is_override=True,
                scope=id(self._scopes[-1]),
            )
        )

    def _override_argument(self, call: cst.Call, keyword: str, value: cst.BaseExpression) -> None:
        """``Model(..., stat_dim_override=x.shape[-1])`` where ``stat_dim`` is configured."""
        key = keyword.removesuffix("_override")
        passes_config = keyword.endswith("_override") and any(
            any(map(is_config_word, chain_words(arg.value)))
            for arg in call.args
            if arg.value is not value
        )
        needs: int | None = None
        if not passes_config:
            # ``stat_dim_override=``: configured anywhere in the module; a plain
            # ``stat_dim=x.shape[-1]``: configured in this very function.
            needs = 0 if keyword.endswith("_override") else id(self._scopes[-1])
        self._candidates.append(
            _Candidate(
                value,
                key,
                self._override_message(key, value),
                call=call,
                needs_config=needs,
                is_override=True,
                scope=id(self._scopes[-1]),
            )
        )

    def _helper_may_check(self, call: cst.Call, value: cst.BaseExpression) -> bool:
        """False when ``call`` is of a function of this module that compares the override
        ``value`` fills with its configured width; for a helper in another module, the
        finding is dropped in phase 2 (``resolve``) if that one does."""
        written = dotted_name(call.func)
        if not written or not resolvable(written, self.context.imports):
            return True
        keyword = next((a.keyword.value for a in call.args if a.value is value and a.keyword), "")
        if self._sites.compares(written.rpartition(".")[2], keyword):
            return False
        self.report_if(value, call, keyword, OVERRIDE_CHECKED, "")
        return True

    def _override_message(self, key: str, value: cst.BaseExpression) -> str:
        shown = self.context.code_for(value).strip()
        return (
            f"the configured `{key}` is overridden by the data's shape ({shown}) without "
            "comparing the two: a mismatch silently builds a different model; assert they "
            "match (and log the resolved value) instead"
        )

    def leave_Module(self, original_node: cst.Module) -> None:
        if self._skip:
            return
        bound_names: dict[str, set[str]] = {}
        for (_, name), key in self._bound.items():
            bound_names.setdefault(key, set()).add(name)
        overridden = self._sites.overridden()  # (function id, key) a parameter overrides
        seen: set[int] = set()
        for candidate in self._candidates:
            if id(candidate.node) in seen:
                continue
            if candidate.needs_config is not None and candidate.key not in self._configured.get(
                candidate.needs_config, set()
            ):
                continue
            if not candidate.is_override and (
                (candidate.scope, candidate.key) in overridden
                or any(
                    other.is_override
                    and (
                        (candidate.call is not None and other.call is candidate.call)
                        or (other.key == candidate.key and other.scope == candidate.scope)
                    )
                    for other in self._candidates
                )
            ):
                continue  # the override (same call, or same key in this function) is the finding
            names = {candidate.key} | bound_names.get(candidate.key, set())
            if names & self._checked:
                continue
            if candidate.is_override and reads_checked(
                shape_reads(candidate.node), self._sites.shape_checks
            ):
                continue  # ``assert x.shape[-1] == 21``: a changed pipeline fails loudly
            if (
                candidate.is_override
                and candidate.call is not None
                and not self._helper_may_check(candidate.call, candidate.node)
            ):
                continue
            seen.add(id(candidate.node))
            if candidate.slot is not None and candidate.call is not None:
                self.report_if(
                    candidate.node,
                    candidate.call,
                    candidate.slot,
                    INPUT,
                    candidate.message,
                    unless=self._checked,
                )
            else:
                self.report(candidate.node, candidate.message)
        self._sites.finish(self._checked, self._data_checked, self._configured[0], seen)
