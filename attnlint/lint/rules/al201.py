"""AL201 unchecked-input-dim: a configured input dimension never compared with the data.

Two shapes of the same bug (seed 000: ``model_a.stat_dim: 21`` in the config, the model
built from the first batch's ``player_stats.shape[-1]``, the two never compared):

(a) a dimension read from configuration is handed to a model or layer as its input size,
    and nothing in the module compares it with a tensor's ``shape`` / ``size()``;
(b) the configured value is overridden by the data's shape without comparing the two.

Kept conservative: only names that say "input" (``stat_dim``, ``input_dim``,
``in_features``...), only configuration-looking sources, and any comparison in the module
between that name and a shape silences it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import libcst as cst
from pydantic import BaseModel

from attnlint.lint.helpers import is_test_path, string_value
from attnlint.lint.rule import Rule, RuleContext
from attnlint.lint.walk import walk

_INPUT_KEYS = frozenset(
    {
        "in_features",
        "in_channels",
        "input_size",
        "input_dim",
        "input_dims",
        "in_dim",
        "d_in",
        "d_input",
        "dim_in",
        "n_features",
        "num_features",
        "n_feats",
        "num_feats",
        "feature_dim",
        "feat_dim",
        "features_dim",
        "feature_size",
        "input_features",
        "n_inputs",
        "num_inputs",
        "n_input",
        "num_input",
        "input_channels",
        "n_input_features",
        "num_input_features",
    }
)

# ``<prefix>_dim`` is an input dimension unless a word of the prefix says it is internal
# or an output (``hidden_dim``, ``out_dim``, ``embed_dim``, ``action_dim``...).
_NOT_INPUT_WORDS = frozenset(
    (  # noqa: SIM905 (a word list reads better as one string)
        "hidden hid out output outputs embed embedding emb model latent inner ff ffn head "
        "heads proj projection attn attention key query value qk kv k q v z mlp bottleneck "
        "intermediate enc dec encoder decoder rnn lstm gru cond time pos position rank low "
        "code action act target label class classes cls num n max min vocab mid res residual "
        "final last pool pooled score logit logits context ctx memory mem token word char "
        "patch pred prediction y"
    ).split()
)

_CONFIG_WORDS = frozenset(
    (  # noqa: SIM905
        "cfg config conf configs args opt opts options hparams hp hps params settings flags "
        "hyperparams hyperparameters"
    ).split()
)

_NOT_MODELS = re.compile(
    r"(Config|Configuration|Args|Arguments|Params|Parameters|Settings|Options|Namespace|"
    r"Dataset|DataLoader|DataModule|Sampler|Tensor|Parser|Dict)$"
)
_MODEL_NAMES = re.compile(
    r"(Model|Net|Network|Encoder|Decoder|Transformer|MLP|Rank|Ranker|Classifier|Regressor|"
    r"Attention|Layer|Block|Module)$"
)


def is_input_key(name: str) -> bool:
    name = name.lower()
    if name in _INPUT_KEYS:
        return True
    if name.endswith("_override"):
        return is_input_key(name[: -len("_override")])
    if not name.endswith("_dim") or name == "_dim":
        return False
    words = name[: -len("_dim")].split("_")
    return bool(words) and all(words) and not (set(words) & _NOT_INPUT_WORDS)


def _is_config_word(name: str) -> bool:
    name = name.lower()
    return name in _CONFIG_WORDS or name.endswith(("cfg", "config", "conf", "args", "hparams"))


def _chain_words(node: cst.BaseExpression) -> list[str]:
    """The names along an attribute/subscript chain: ``self.cfg.model`` -> [self, cfg, model]."""
    words: list[str] = []
    while True:
        if isinstance(node, cst.Attribute):
            words.append(node.attr.value)
            node = node.value
        elif isinstance(node, cst.Subscript):
            key = _subscript_key(node)
            if key is not None:
                words.append(key)
            node = node.value
        elif isinstance(node, cst.Name):
            words.append(node.value)
            return list(reversed(words))
        else:
            return list(reversed(words))


def _subscript_key(node: cst.Subscript) -> str | None:
    if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
        return None
    return string_value(node.slice[0].slice.value)


def config_key(node: cst.BaseExpression) -> str | None:
    """The input-dimension key a configuration look-up reads, if it is one.

    ``cfg["model_a"]["stat_dim"]``, ``config.input_dim``, ``args.in_features``,
    ``cfg.get("input_dim")``, ``getattr(cfg, "n_features")``, ``int(...)`` of those.
    """
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.args:
        if node.func.value in ("int", "float") and len(node.args) == 1:
            return config_key(node.args[0].value)
        if node.func.value == "getattr" and len(node.args) >= 2:
            key = string_value(node.args[1].value)
            if (
                key
                and is_input_key(key)
                and any(map(_is_config_word, _chain_words(node.args[0].value)))
            ):
                return key
        return None
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        if node.func.attr.value == "get" and node.args:
            key = string_value(node.args[0].value)
            return key if key and is_input_key(key) else None
        return None
    if isinstance(node, cst.Subscript):
        key = _subscript_key(node)
        return key if key and is_input_key(key) else None
    if isinstance(node, cst.Attribute):
        key = node.attr.value
        if is_input_key(key) and any(map(_is_config_word, _chain_words(node.value))):
            return key
    return None


def _has_shape(node: cst.CSTNode) -> bool:
    """Reads a tensor's ``.shape`` or ``.size(...)``."""
    for current in walk(node):
        if isinstance(current, cst.Attribute) and current.attr.value == "shape":
            return True
        if (
            isinstance(current, cst.Call)
            and isinstance(current.func, cst.Attribute)
            and current.func.attr.value == "size"
        ):
            return True
    return False


def _tokens(node: cst.CSTNode) -> set[str]:
    """Names, attribute names and string keys mentioned in ``node``."""
    found: set[str] = set()
    for current in walk(node):
        if isinstance(current, cst.Name):
            found.add(current.value)
        elif isinstance(current, cst.SimpleString):
            value = current.evaluated_value
            if isinstance(value, str):
                found.add(value)
    return found


def _is_model_call(context: RuleContext, call: cst.Call, local_models: set[str]) -> bool:
    qualname = context.qualname(call.func)
    if qualname is None:
        return False
    last = qualname.rsplit(".", 1)[-1]
    if _NOT_MODELS.search(last):
        return False
    if qualname.startswith("torch.nn.") and last[:1].isupper():
        return True
    return last in local_models or bool(_MODEL_NAMES.search(last))


def _builds_model(context: RuleContext, call: cst.Call, local_models: set[str]) -> bool:
    """A model/layer constructor or a model-building function (``build_model(...)``)."""
    if _is_model_call(context, call, local_models):
        return True
    qualname = context.qualname(call.func) or ""
    last = qualname.rsplit(".", 1)[-1]
    if _NOT_MODELS.search(last):
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


class UncheckedInputDim(Rule):
    code = "AL201"
    name = "unchecked-input-dim"
    summary = (
        "a model built with a configured input dimension that is never compared with the "
        "data's shape[-1], or silently overridden by it"
    )
    triggers = ("dim", "features", "input_size", "in_channels", "d_in", "num_inputs", "n_inputs")

    def __init__(self, context: RuleContext, options: BaseModel | None = None) -> None:
        super().__init__(context, options)
        self._skip = is_test_path(context.path)
        self._scopes: list[cst.CSTNode] = [context.module]
        self._bound: dict[tuple[int, str], str] = {}  # (scope, name) -> configured key
        self._configured: dict[int, set[str]] = {0: set()}  # scope id (0: module) -> keys
        self._checked: set[str] = set()  # tokens of comparisons that involve a shape
        self._local_models: set[str] = set()
        self._candidates: list[_Candidate] = []
        self._in_model: list[bool] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._scopes.append(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._scopes.pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        # Classes defined here that subclass some ``...Module``/``...Model``: the module's
        # own models. Inside them, a layer sized from the model's own config is model code,
        # not the call site where the data is at hand.
        is_model = False
        for base in node.bases:
            name = self.context.qualname(base.value) or ""
            if name.endswith(("Module", "Model", "PreTrainedModel", "Layer")):
                self._local_models.add(node.name.value)
                is_model = True
        self._in_model.append(is_model)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self._in_model.pop()

    def visit_Comparison(self, node: cst.Comparison) -> None:
        if _has_shape(node):
            self._checked |= _tokens(node)

    def _key_of(self, value: cst.BaseExpression) -> str | None:
        key = config_key(value)
        if key is None and isinstance(value, cst.Name):
            key = self._bound.get((id(self._scopes[-1]), value.value))
        return key

    def visit_Assign(self, node: cst.Assign) -> None:
        key = config_key(node.value)
        for target in node.targets:
            if isinstance(target.target, cst.Name) and key is not None:
                self._bound[(id(self._scopes[-1]), target.target.value)] = key
                self._note_configured(key)
            elif _has_shape(node.value) and not isinstance(node.value, cst.Comparison):
                self._check_override(target.target, node.value)

    def visit_Call(self, node: cst.Call) -> None:
        key = config_key(node)
        if key is not None:
            self._note_configured(key)
        for position, arg in enumerate(node.args):
            if (arg.keyword is None and position > 0) or arg.star:
                continue
            keyword = arg.keyword.value if arg.keyword is not None else None
            if keyword is not None and _has_shape(arg.value):
                if is_input_key(keyword):
                    self._override_argument(node, keyword, arg.value)
                continue
            if keyword is not None and not is_input_key(keyword):
                continue
            found = self._key_of(arg.value)
            if found is None or any(self._in_model):
                continue
            local_models = self._local_models
            if keyword is None and not _is_model_call(self.context, node, local_models):
                continue
            if keyword is not None and not _builds_model(self.context, node, local_models):
                continue
            callee = self.context.code_for(node.func).strip()
            shown = self.context.code_for(arg.value).strip()
            self._candidates.append(
                _Candidate(
                    arg.value,
                    found,
                    call=node,
                    scope=id(self._scopes[-1]),
                    message=f"input size of {callee} comes from configuration ({shown}) and "
                    f"nothing in this module compares `{found}` with the data's shape[-1]: assert "
                    "they match where the first batch is seen, or a changed feature "
                    "pipeline trains a model on misaligned inputs",
                )
            )

    def visit_Subscript(self, node: cst.Subscript) -> None:
        key = config_key(node)
        if key is not None:
            self._note_configured(key)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        key = config_key(node)
        if key is not None:
            self._note_configured(key)

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
            any(map(_is_config_word, _chain_words(arg.value)))
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
        seen: set[int] = set()
        for candidate in self._candidates:
            if id(candidate.node) in seen:
                continue
            if candidate.needs_config is not None and candidate.key not in self._configured.get(
                candidate.needs_config, set()
            ):
                continue
            if not candidate.is_override and any(
                other.is_override
                and (
                    (candidate.call is not None and other.call is candidate.call)
                    or (other.key == candidate.key and other.scope == candidate.scope)
                )
                for other in self._candidates
            ):
                continue  # the override (same call, or same key in this function) is the finding
            names = {candidate.key} | bound_names.get(candidate.key, set())
            if names & self._checked:
                continue
            seen.add(id(candidate.node))
            self.report(candidate.node, candidate.message)
