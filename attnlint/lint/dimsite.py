"""AL201 across functions: what a function does with an input width, for the project index.

Per function it records two facts (``attnlint.lint.index``):

* ``OVERRIDE`` on a parameter that overrides a configured input width: assigned over a
  name read from configuration (``stat_dim = cfg[...]["stat_dim"]`` ... ``stat_dim =
  stat_dim_override``), into the configuration (``cfg["stat_dim"] = override``), or
  chosen over it (``override if override is not None else cfg.stat_dim``,
  ``override or cfg.stat_dim``), and never compared with it;
* ``INPUT`` on a parameter that sizes a model's input: named as an input width and handed
  on (``nn.Linear(stat_dim, ...)``, ``self.stat_dim = stat_dim``), or, in model code, a
  configuration object the width is read from (``config.input_dim`` in ``__init__``).

Call sites outside model code leave pending findings: the data's width (``x.shape[-1]``,
or a name bound from it) passed where the callee lets it override the configured width,
or sizes the input while this module's configuration holds its own value; a configuration
object (``params`` after ``params.update(stat_dim=cfg...)``, ``cfg.model``, ``Cfg()``)
handed to a callee whose model reads its input width from it. Comparisons with the data
in the caller's module silence them.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import libcst as cst

from attnlint.lint.dimreport import INPUT, OVERRIDE, OVERRIDE_CHECKED, report_sites
from attnlint.lint.dims import (
    chain_words,
    config_key,
    has_shape,
    is_config_instance,
    is_config_word,
    is_input_key,
    is_width,
    reads_checked,
    root_name,
    shape_reads,
)
from attnlint.lint.dims import tokens as dim_tokens
from attnlint.lint.dimscopes import ScopeFacts, Site, plain_params
from attnlint.lint.index import ANY_PARAM, call_slots
from attnlint.lint.rule import dotted_name
from attnlint.lint.summary import part_of, resolvable
from attnlint.lint.walk import walk

if TYPE_CHECKING:
    from attnlint.lint.rule import Rule

_MODEL_CONFIG_ATTRS = frozenset({"config", "cfg"})
# where batches are drawn (not ``batch_first=True`` or ``batch_size = x.size(0)``, which
# model code is full of)
_DATA_WORDS = ("DataLoader", "loader", "batch in ", "step(self, batch", "next(iter(", ".backward(")
_DATA_WORDS += (".fit(", "Trainer(", "dataset")
_SECTIONS = frozenset(
    (  # noqa: SIM905 (a word list reads better as one string)
        "model models net network arch architecture encoder decoder ranker backbone head "
        "data dataset train training module"
    ).split()
)


class Sites:
    """The cross-function half of AL201; the rule calls it from its own hooks."""

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self._stack: list[ScopeFacts] = []
        self._top = ScopeFacts(rule.context.module, set(), in_model=False, in_class=False)
        self._done: list[ScopeFacts] = []
        self._sites: list[Site] = []
        self.shape_checks: set[tuple[frozenset[str], str]] = set()  # the module's comparisons

    # -- scopes ------------------------------------------------------------------------

    def enter(
        self, node: cst.FunctionDef, in_model: bool, in_class: bool, storage: bool = False
    ) -> None:
        """``storage``: a method of a class that only holds values (``TrainConfig``,
        ``ModelArgs``): its parameters size nothing, whatever they are called."""
        params = set() if storage else plain_params(node) - {"self", "cls"}
        self._stack.append(ScopeFacts(node, params, in_model, in_class))

    def leave(self, node: cst.FunctionDef) -> None:
        self._done.append(self._stack.pop())

    @property
    def _current(self) -> ScopeFacts | None:
        return self._stack[-1] if self._stack else self._top

    # -- what the rule sees ------------------------------------------------------------

    def tokens(self, node: cst.CSTNode) -> set[str]:
        return dim_tokens(node)

    def mentions_data(self, node: cst.CSTNode) -> bool:
        current = self._current
        if current is None or not current.data:
            return False
        return any(isinstance(n, cst.Name) and n.value in current.data for n in walk(node))

    def is_width(self, value: cst.BaseExpression) -> bool:
        """``value`` is the data's width, or a name bound to it in this scope."""
        current = self._current
        return current is not None and is_width(value, current.widths)

    def checks_input_param(self, node: cst.Comparison) -> bool:
        """``stat_dim_override != stat_dim``: a parameter named as an input width compared
        with something other than None (the helper checks what its callers hand it)."""
        current = self._current
        if current is None or self._only_none(node):
            return False
        names = {n.value for n in walk(node) if isinstance(n, cst.Name)}
        return any(is_input_key(p) for p in names & current.params)

    @staticmethod
    def _only_none(node: cst.Comparison) -> bool:
        return all(
            isinstance(t.operator, cst.Is | cst.IsNot)
            and isinstance(t.comparator, cst.Name)
            and t.comparator.value == "None"
            for t in node.comparisons
        )

    def compared(self, node: cst.Comparison) -> None:
        current = self._current
        if current is None or self._only_none(node):
            return  # ``override is not None`` asks whether there is one, not whether it fits
        current.compared |= dim_tokens(node)

    def own_config(self, value: cst.BaseExpression) -> bool:
        """Another model's configuration (``block.config.in_channels``, a name bound to
        ``block.config``): a sub-module rebuilt from it is model code, not the data's."""
        words = chain_words(value)
        if not words:
            return False
        current = self._current
        if current is not None and words[0] in current.model_configs:
            return True
        return any(
            word in _MODEL_CONFIG_ATTRS and not is_config_word(before) and before != "self"
            for before, word in itertools.pairwise(words)
        )

    def assigned(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        current = self._current
        if current is None:
            return
        if isinstance(target, cst.Name):
            name = target.value
            root, _ = part_of(value)
            if root is not None and root in current.params and name not in current.params:
                current.aliases[name] = root  # ``c = config``, ``mcfg = cfg.model``
            if not isinstance(value, cst.Comparison) and (
                has_shape(value) or self.mentions_data(value)
            ):
                current.data.add(name)
            if is_width(value, current.widths):
                current.widths.add(name)
            if self._is_object(value):
                current.objects.add(name)
            if (
                isinstance(value, cst.Attribute)
                and value.attr.value in _MODEL_CONFIG_ATTRS
                and not any(map(is_config_word, chain_words(value.value)))
            ):
                current.model_configs.add(name)
            bound = self.rule._bound.get((id(current.node), name))  # type: ignore[attr-defined]
            if bound is not None and isinstance(value, cst.Name) and value.value in current.params:
                current.overrides.append((value.value, bound))
            self._chosen_over_config(value)
            return
        key = config_key(target)
        if key is not None and isinstance(target, cst.Subscript | cst.Attribute):
            current.rewritten.add(self.rule.context.code_for(target.value).strip())
        if key is not None and isinstance(value, cst.Name) and value.value in current.params:
            current.overrides.append((value.value, key))
        root = root_name(target)
        if isinstance(value, cst.Name) and value.value in current.params and root == "self":
            current.kept.add(value.value)  # self.stat_dim = stat_dim
        elif root and root != "self" and (config_key(value) is not None or self._is_object(value)):
            current.objects.add(root)  # params["stat_dim"] = cfg.data.stat_dim
        self._chosen_over_config(value)

    def _chosen_over_config(self, value: cst.BaseExpression) -> None:
        """``p if p is not None else cfg.stat_dim``, ``p or cfg.stat_dim``."""
        current = self._current
        if current is None:
            return
        if isinstance(value, cst.IfExp):
            branches = [value.body, value.orelse]
        elif isinstance(value, cst.BooleanOperation) and isinstance(value.operator, cst.Or):
            branches = [value.left, value.right]
        else:
            return
        params = [
            b.value for b in branches if isinstance(b, cst.Name) and b.value in current.params
        ]
        keys = [k for k in map(config_key, branches) if k is not None]
        if len(params) == 1 and keys:
            current.overrides.append((params[0], keys[0]))

    def _is_object(self, value: cst.BaseExpression) -> bool:
        """A configuration object: ``cfg["model"]``, ``dict(cfg.model)``, ``{**cfg.model}``,
        ``{"stat_dim": cfg.data.stat_dim}``, a name already bound to one."""
        current = self._current
        if is_config_instance(value):
            return True
        if isinstance(value, cst.Call) and len(value.args) == 1 and not value.args[0].keyword:
            value = value.args[0].value  # dict(...), deepcopy(...), to_container(...)
        if config_key(value) is not None:
            return False  # one configured value (``cfg.stat_dim``), not an object
        if isinstance(value, cst.Dict):
            return any(
                (isinstance(e, cst.DictElement) and config_key(e.value) is not None)
                or (isinstance(e, cst.StarredDictElement) and self._is_object(e.value))
                for e in value.elements
            )
        if isinstance(value, cst.Name):
            return current is not None and value.value in current.objects
        words = chain_words(value)
        if not words or not is_config_word(words[0]) or self.own_config(value):
            return False
        # ``cfg.model`` / ``cfg["model_a"]`` is a section of the configuration;
        # ``config.hidden_size`` is one value of it (not an input width: config_key said so).
        leaf = words[-1].lower()
        return len(words) == 1 or is_config_word(leaf) or leaf.split("_")[0] in _SECTIONS

    def config_read(self, node: cst.BaseExpression, key: str) -> None:
        current = self._current
        if current is None or not current.in_model:
            return
        root = root_name(node)
        root = current.aliases.get(root, root) if root is not None else None
        if root is not None and root in current.params:
            current.reads.append((root, key))

    def aliased(self, value: cst.BaseExpression) -> bool:
        """``value`` is a name bound to a parameter (``c = config``) in this function."""
        names = self._current.aliases if self._current is not None else {}
        return isinstance(value, cst.Name) and value.value in names

    def from_caller(self, value: cst.BaseExpression, key: str) -> bool:
        """``Transformer(mcfg.input_dim, ...)`` in ``def build_model(mcfg)`` of a module
        with no data in sight: the configuration is the caller's, and so is the check
        (an ``INPUT`` fact on ``mcfg``; a caller handing it ``cfg.model`` is the site)."""
        current = self._current
        root = root_name(value)
        if current is not None and root is not None:
            root = current.aliases.get(root, root)
        if current is None or root is None or root not in current.params:
            return False
        if self.sees_data():
            return False
        current.reads.append((root, key))
        return True

    def sees_data(self) -> bool:
        source = self.rule.context.source
        return any(word in source for word in _DATA_WORDS)

    def handed(self, node: cst.Call) -> None:
        """``nn.Linear(stat_dim, ...)``: a parameter handed to a call sizes something."""
        current = self._current
        if current is not None:
            current.kept.update(
                a.value.value
                for a in node.args
                if isinstance(a.value, cst.Name) and a.value.value in current.params
            )
            for arg in node.args:  # ``Model(stat_dim=stat_dim_override or cfg.stat_dim)``
                self._chosen_over_config(arg.value)

    def call(self, node: cst.Call) -> None:
        """Call sites outside model code: where the data's width or a configuration object
        is handed to a function the index can follow."""
        current = self._current
        func = node.func
        if (
            current is not None
            and isinstance(func, cst.Attribute)
            and func.attr.value in ("update", "setdefault", "__setitem__")
            and isinstance(func.value, cst.Name)
            and any(config_key(a.value) or self._is_object(a.value) for a in node.args)
        ):
            current.objects.add(func.value.value)  # params.update(stat_dim=cfg.stat_dim)
        written = dotted_name(func)
        if written is None or not resolvable(written, self.rule.context.imports):
            return  # a library or a local object's method: nothing the index could follow
        for slot, value in call_slots(node):
            if has_shape(value) or self.mentions_data(value):
                names = {n.value for n in walk(value) if isinstance(n, cst.Name)}
                self._sites.append(Site(node, value, slot, "data", names))
            elif (
                self._is_object(value)
                and not (slot == ANY_PARAM and self._widths(node))
                and (current is None or not self._rewritten(current, value))
            ):
                self._sites.append(Site(node, value, slot, "config", set()))

    def _site_checked(self, site: Site, checked: set[str]) -> bool:
        """A comparison in the module involves what the site hands on: the tensor and axis
        its width is read from, or a name it is made of."""
        reads = shape_reads(site.node)
        if not reads:
            return bool(site.names & checked)
        read_from = set().union(*(tensor for tensor, _ in reads), {"shape", "size"})
        return reads_checked(reads, self.shape_checks) or bool((site.names - read_from) & checked)

    def _rewritten(self, current: ScopeFacts, value: cst.BaseExpression) -> bool:
        """The object's width was set in this scope (the override, reported where it is
        set, or the data's width): it no longer carries the configured one."""
        return bool(current.rewritten) and (
            self.rule.context.code_for(value).strip() in current.rewritten
        )

    def _widths(self, call: cst.Call) -> bool:
        """An argument is a configured input width or the data's: it, not ``**cfg.model``,
        is the input size (``Model(cfg.n_features, **cfg.model)``)."""
        key_of = self.rule._key_of  # type: ignore[attr-defined]
        return any(key_of(a.value) or self.is_width(a.value) for a in call.args)

    def compares(self, name: str, param: str) -> bool:
        """Function ``name`` of this module compares its override ``param`` first."""
        hits = [f for f in self._done if param in f.compared and param in dict(f.overrides)]
        return any(isinstance(f.node, cst.FunctionDef) and f.node.name.value == name for f in hits)

    def overridden(self) -> set[tuple[int, str]]:
        """(function id, key) where a parameter overrides the configured ``key``: there,
        the override (reported at the caller) is the finding, not the configured value."""
        return {(id(f.node), key) for f in self._done for _, key in f.overrides}

    # -- the end of the module ---------------------------------------------------------

    def finish(
        self, checked: set[str], data_checked: set[str], configured: set[str], reported: set[int]
    ) -> None:
        """``checked``: tokens of the module's comparisons with a shape or of an input-width
        parameter; ``data_checked``: those with a shape only (an override is checked by its
        own function's comparisons, ``ScopeFacts.compared``, or by the data's)."""
        index = self.rule.context.index
        for function in self._done:
            for param, key in function.overrides:
                if param in function.compared:
                    index.fact(function.node, OVERRIDE_CHECKED, param, key)
                elif key not in data_checked:
                    index.fact(function.node, OVERRIDE, param, key)
            for param in function.params:
                used = param in function.kept
                if is_input_key(param) and used and param not in function.compared:
                    index.fact(function.node, INPUT, param, param.removesuffix("_override"))
            for param, key in function.reads:
                if key not in checked:
                    index.fact(function.node, INPUT, param, key)
        # "Never compared with the data" needs data in sight: a module that builds a model
        # from a configuration but never sees a batch (a checkpoint converter) is not the
        # place for the check.
        sees_data = self.sees_data()
        sites = [
            site
            for site in self._sites
            if id(site.node) not in reported
            and not self._site_checked(site, checked)
            and (site.kind == "data" or sees_data)
        ]
        report_sites(self.rule, sites, checked, data_checked, configured)
