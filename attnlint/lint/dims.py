"""Vocabulary of input dimensions and configuration look-ups (AL201 and the project index).

Names that denote a model's input size (``stat_dim``, ``input_dim``, ``in_features``...),
expressions that read one from configuration (``cfg["model_a"]["stat_dim"]``,
``config.input_dim``, ``args.get("n_features")``), and what reads a tensor's shape.
"""

from __future__ import annotations

import re

import libcst as cst

from attnlint.lint.helpers import string_value
from attnlint.lint.walk import walk

INPUT_KEYS = frozenset(
    {
        "in_features",
        "in_channels",
        "in_chans",
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
        "patch pred prediction y pair"
    ).split()
)

_CONFIG_WORDS = frozenset(
    (  # noqa: SIM905
        "cfg config conf configs args opt opts options hparams hp hps params settings flags "
        "hyperparams hyperparameters defaults"
    ).split()
)

NOT_MODELS = re.compile(
    r"(Config|Configuration|Args|Arguments|Params|Parameters|Settings|Options|Namespace|"
    r"Dataset|DataLoader|DataModule|Sampler|Tensor|Parser|Dict)$"
)
MODEL_NAMES = re.compile(
    r"(Model|Net|Network|Encoder|Decoder|Transformer|MLP|Rank|Ranker|Classifier|Regressor|"
    r"Attention|Layer|Block|Module)$"
)


# ``n_<kind>_features``: a count of the data's features of one kind (``n_num_features``,
# ``num_node_features``), unless the kind says internal or output (``n_out_features``,
# ``num_hidden_features``). ``num`` here is the kind "numerical", not a count.
_COUNT_WORDS = frozenset({"n", "num", "nb", "number"})
_FEATURE_WORDS = frozenset({"features", "feats"})
_NOT_FEATURE_KINDS = _NOT_INPUT_WORDS - {"num"}


def is_input_key(name: str) -> bool:
    name = name.lower()
    if name in INPUT_KEYS:
        return True
    if name.endswith("_override"):
        return is_input_key(name[: -len("_override")])
    words = name.split("_")
    if len(words) < 2 or not all(words):
        return False
    if words[-1] == "dim":
        return not set(words[:-1]) & _NOT_INPUT_WORDS
    if len(words) >= 3 and words[0] in _COUNT_WORDS and words[-1] in _FEATURE_WORDS:
        return not set(words[1:-1]) & _NOT_FEATURE_KINDS
    if words[-1] == "in":  # ``n_features_in`` (scikit-learn's word)
        return len(words) >= 3 and is_input_key("_".join(words[:-1]))
    return False


def is_config_word(name: str) -> bool:
    name = name.lower()
    if name.endswith("kwargs") and name not in _CONFIG_WORDS:
        return False  # ``**kwargs`` handed on, ``_dd_from_kwargs(...)``: not a configuration
    return name in _CONFIG_WORDS or name.endswith(("cfg", "config", "conf", "args", "hparams"))


_CONFIG_CLASS = re.compile(r"(Config|Configuration|Args|Arguments|Params|Settings|Options)$")


def literal_config_keys(node: cst.Assign) -> list[str]:
    """Input widths a configuration written in the code holds: ``DEFAULTS =
    dict(d_in=16, ...)``, ``CONFIG = {"n_features": 40}``."""
    if not any(
        isinstance(t.target, cst.Name) and is_config_word(t.target.value) for t in node.targets
    ):
        return []
    value = node.value
    keys: list[str | None] = []
    if (
        isinstance(value, cst.Call)
        and isinstance(value.func, cst.Name)
        and value.func.value == "dict"
    ):
        keys = [a.keyword.value for a in value.args if a.keyword is not None]
    elif isinstance(value, cst.Dict):
        keys = [
            e.key.raw_value
            for e in value.elements
            if isinstance(e, cst.DictElement) and isinstance(e.key, cst.SimpleString)
        ]
    return [k for k in keys if k is not None and is_input_key(k)]


def is_config_instance(value: cst.BaseExpression) -> bool:
    """A new configuration object: ``Cfg()``, ``TrainConfig(lr=3e-4)``,
    ``TrainConfig.from_yaml(path)``, ``parser.parse_args()`` (its fields are the class's)."""
    if not isinstance(value, cst.Call):
        return False
    func = value.func
    if (  # a class's alternative constructor: ``TrainConfig.from_yaml(path)``
        isinstance(func, cst.Attribute)
        and isinstance(func.value, cst.Name)
        and func.attr.value.startswith("from_")
    ):
        func = func.value
    name = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", "")
    return isinstance(name, str) and (is_config_word(name) or bool(_CONFIG_CLASS.search(name)))


def chain_words(node: cst.BaseExpression) -> list[str]:
    """The names along an attribute/subscript chain: ``self.cfg.model`` -> [self, cfg, model]."""
    words: list[str] = []
    while True:
        if isinstance(node, cst.Attribute):
            words.append(node.attr.value)
            node = node.value
        elif isinstance(node, cst.Subscript):
            key = subscript_key(node)
            if key is not None:
                words.append(key)
            node = node.value
        elif isinstance(node, cst.Name):
            words.append(node.value)
            return list(reversed(words))
        else:
            return list(reversed(words))


def root_name(node: cst.BaseExpression) -> str | None:
    """The name an attribute, subscript or call chain starts from: ``cfg`` in
    ``cfg.model["in_dim"]``."""
    while isinstance(node, cst.Attribute | cst.Subscript | cst.Call):
        node = node.func if isinstance(node, cst.Call) else node.value
    return node.value if isinstance(node, cst.Name) else None


def read_from_config(node: cst.BaseExpression) -> bool:
    """Read straight from an object named as configuration: ``cfg["data"]["n_features"]``,
    ``args.n_features``, ``config.get("d_in")``, ``getattr(hp, ...)``, ``int(...)`` of one;
    not a name bound earlier, nor a key of any dict (``inputs["input_features"]``)."""
    if isinstance(node, cst.Name):
        return False
    if isinstance(node, cst.Call) and node.args:
        func = node.func
        if isinstance(func, cst.Name) and func.value in ("int", "float"):
            return read_from_config(node.args[0].value)
        if isinstance(func, cst.Name) and func.value == "getattr":
            node = node.args[0].value
        elif isinstance(func, cst.Attribute):
            node = func.value  # ``cfg.get("d_in")``
    return any(map(is_config_word, chain_words(node)))


def subscript_key(node: cst.Subscript) -> str | None:
    if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
        return None
    return string_value(node.slice[0].slice.value)


_KEYWORD_DICTS = frozenset({"kwargs", "kw", "kwds", "model_kwargs"})


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
                and any(map(is_config_word, chain_words(node.args[0].value)))
            ):
                return key
        return None
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        receiver = node.func.value
        if isinstance(receiver, cst.Name) and receiver.value in _KEYWORD_DICTS:
            return None  # ``kwargs.get("in_chans", 3)``: the caller's argument, handed on
        if node.func.attr.value == "get" and node.args:
            key = string_value(node.args[0].value)
            return key if key and is_input_key(key) else None
        return None
    if isinstance(node, cst.Subscript):
        key = subscript_key(node)
        return key if key and is_input_key(key) else None
    if isinstance(node, cst.Attribute):
        key = node.attr.value
        if is_input_key(key) and any(map(is_config_word, chain_words(node.value))):
            return key
    return None


def has_shape(node: cst.CSTNode) -> bool:
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


def is_width(node: cst.BaseExpression, names: set[str] | frozenset[str] = frozenset()) -> bool:
    """A width read off the data: ``x.shape[-1]``, ``x.size(-1)``, ``int(...)`` of one, a
    conditional choosing one over None, or a name in ``names`` (bound to one). A tensor
    sliced by a shape (``a[:, : a.shape[1]]``) is not a width."""
    if isinstance(node, cst.Name):
        return node.value in names
    if isinstance(node, cst.Subscript):
        value = node.value
        return isinstance(value, cst.Attribute) and value.attr.value == "shape"
    if isinstance(node, cst.Call):
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value == "size":
            return bool(node.args)
        if isinstance(func, cst.Name) and func.value == "int" and len(node.args) == 1:
            return is_width(node.args[0].value, names)
        return False
    if isinstance(node, cst.IfExp):
        return is_width(node.body, names) or is_width(node.orelse, names)
    return False


def tokens(node: cst.CSTNode) -> set[str]:
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


def shape_reads(node: cst.CSTNode) -> set[tuple[frozenset[str], str]]:
    """The shape reads in ``node``: (the tokens of the tensor read, its axis), the axis a
    literal index (``"1"``, ``"-1"``) or ``"*"`` for the whole shape or any other index
    (``x.shape[1:]``, ``x.shape[i]``, ``x.shape == ...``)."""
    found: set[tuple[frozenset[str], str]] = set()
    whole: set[int] = set()  # ``.shape`` attributes read through an index
    for current in walk(node):
        if isinstance(current, cst.Subscript) and _is_shape(current.value):
            assert isinstance(current.value, cst.Attribute)
            whole.add(id(current.value))
            index = current.slice[0].slice if len(current.slice) == 1 else None
            axis = _literal_axis(index.value) if isinstance(index, cst.Index) else None
            found.add((frozenset(tokens(current.value.value)), axis or "*"))
        elif (
            isinstance(current, cst.Call)
            and isinstance(current.func, cst.Attribute)
            and current.func.attr.value == "size"
        ):
            axis = _literal_axis(current.args[0].value) if len(current.args) == 1 else None
            found.add((frozenset(tokens(current.func.value)), axis or "*"))
    for current in walk(node):
        if _is_shape(current) and id(current) not in whole:
            assert isinstance(current, cst.Attribute)
            found.add((frozenset(tokens(current.value)), "*"))
    return found


def _is_shape(node: cst.CSTNode) -> bool:
    return isinstance(node, cst.Attribute) and node.attr.value == "shape"


def _literal_axis(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Integer):
        return node.value
    if (
        isinstance(node, cst.UnaryOperation)
        and isinstance(node.operator, cst.Minus)
        and isinstance(node.expression, cst.Integer)
    ):
        return "-" + node.expression.value
    return None


def reads_checked(
    site: set[tuple[frozenset[str], str]], checks: set[tuple[frozenset[str], str]]
) -> bool:
    """A comparison reads the same tensor on the same axis (or its whole shape) as
    ``site``: a check of ``x.shape[-1]`` says nothing of the ``x.shape[1]`` handed on."""
    return any(
        "*" in (axis, other_axis) or axis == other_axis
        for tensor, axis in site
        for other, other_axis in checks
        if tensor == other
    )
