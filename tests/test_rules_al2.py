"""AL201 unchecked-input-dim."""

from __future__ import annotations

import textwrap

import pytest

from attnlint.lint.engine import lint_source
from attnlint.lint.rules.al201 import UncheckedInputDim, is_input_key


def lines(source: str, path: str = "train.py") -> list[int]:
    found = lint_source(textwrap.dedent(source), path, rules=[UncheckedInputDim])
    return [d.line for d in found]


FIRES = {
    "layer from config subscript": (
        "from torch import nn\nlayer = nn.Linear(cfg['model_a']['input_dim'], 64)\n",
        [2],
    ),
    "layer from config attribute": "import torch\nenc = torch.nn.LSTM(args.input_size, 32)\n",
    "model keyword": "model = DeepSetRank(stat_dim=config['model_a']['stat_dim'], hidden=64)\n",
    "through a name": (
        """\
        from torch import nn
        def build(cfg):
            in_dim = cfg.get("in_features")
            return nn.Linear(in_dim, 8)
        """,
        [4],
    ),
    "hparams": "from torch import nn\nproj = nn.Linear(self.hparams.n_features, 16)\n",
    "build function": "model = build_model(input_dim=int(cfg.input_dim))\n",
    "override keyword with config passed": (
        """\
        def build(config, first):
            return DeepSetRank(config, stat_dim_override=first["player_stats"].shape[-1])
        """,
        [2],
    ),
    "override into the config": (
        "def f(cfg, batch):\n    cfg['model_a']['stat_dim'] = batch.x.shape[-1]\n",
        [2],
    ),
    "override of a configured name": (
        """\
        def f(cfg, batch):
            stat_dim = cfg["stat_dim"]
            stat_dim = batch.x.size(-1)
            return stat_dim
        """,
        [3],
    ),
    "data keyword where the same function has a configured value": (
        """\
        def f(cfg, x):
            wanted = cfg["model_a"]["stat_dim"]
            return Model(stat_dim=x.shape[-1]), wanted
        """,
        [3],
    ),
}


@pytest.mark.parametrize("case", FIRES, ids=str)
def test_fires(case: str) -> None:
    value = FIRES[case]
    source, expected = (
        value if isinstance(value, tuple) else (value, [2 if "\n" in value.rstrip() else 1])
    )
    assert lines(source) == expected


def test_seed_pattern_reports_the_override_once() -> None:
    source = """\
    def build(config, first):
        return DeepSetRank(
            stat_dim=config["model_a"]["stat_dim"],
            stat_dim_override=first["player_stats"].shape[-1],
        )
    """
    found = lint_source(textwrap.dedent(source), "train.py", rules=[UncheckedInputDim])
    assert [d.line for d in found] == [4]
    assert "overridden" in found[0].message and "stat_dim" in found[0].message


def test_override_in_its_own_statement_is_reported_once_at_the_override() -> None:
    source = """\
    def build(config, first_batch):
        stat_dim = config["model_a"]["stat_dim"]
        if first_batch is not None:
            stat_dim = first_batch["player_stats"].shape[-1]
        return DeepSetRank(stat_dim=stat_dim)
    """
    assert lines(source) == [4]


SILENT = {
    "assert in the module": """\
        from torch import nn
        def build(cfg, batch):
            layer = nn.Linear(cfg["model_a"]["stat_dim"], 8)
            assert batch["x"].shape[-1] == cfg["model_a"]["stat_dim"]
            return layer
        """,
    "compared through the name": """\
        def build(cfg, x):
            stat_dim = cfg["stat_dim"]
            if x.size(-1) != stat_dim:
                raise ValueError("mismatch")
            return Model(stat_dim=stat_dim)
        """,
    "compared in a helper": """\
        def check(x, input_dim):
            assert x.shape[-1] == input_dim
        def build(cfg):
            return Model(input_dim=cfg.input_dim)
        """,
    "override after comparing": """\
        def f(cfg, batch):
            if batch.x.shape[-1] != cfg["stat_dim"]:
                raise ValueError
            cfg["stat_dim"] = batch.x.shape[-1]
        """,
    "data only": """\
        from torch import nn
        def build(batch):
            return nn.Linear(batch.x.shape[-1], 8), Model(stat_dim=batch.x.shape[-1])
        """,
    "model definition parameter": """\
        from torch import nn
        class Encoder(nn.Module):
            def __init__(self, input_dim):
                super().__init__()
                self.fc = nn.Linear(input_dim, 10)
                self.input_dim = input_dim
        """,
    "hidden and output sizes": """\
        from torch import nn
        head = nn.Linear(cfg.hidden_dim, cfg.num_classes)
        out = nn.Linear(cfg.d_model, cfg.out_dim)
        mha = nn.MultiheadAttention(cfg.embed_dim, cfg.num_heads)
        """,
    "literals and constants": """\
        from torch import nn
        STAT_DIM = 21
        layer = nn.Linear(STAT_DIM, 64)
        other = nn.Linear(21, 64)
        """,
    "config object construction": "conf = ModelConfig(input_dim=cfg.input_dim)\n",
    "not a model call": "x = torch.zeros(cfg.input_dim)\nsave(cfg.input_dim)\n",
    "self attribute, not configuration": """\
        from torch import nn
        class Net(nn.Module):
            def build(self):
                return nn.Linear(self.input_dim, 4)
        """,
    "second positional argument": "from torch import nn\nnn.Linear(64, cfg.input_dim)\n",
    "override keyword with nothing configured": (
        "def f(x):\n    return Model(stat_dim_override=x.shape[-1])\n"
    ),
    "data keyword, configured in another function": """\
        def a(cfg):
            return cfg["stat_dim"]
        def b(x):
            return Model(stat_dim=x.shape[-1])
        """,
}


@pytest.mark.parametrize("case", SILENT, ids=str)
def test_silent(case: str) -> None:
    assert lines(SILENT[case]) == []


def test_skips_test_files() -> None:
    source = "from torch import nn\nnn.Linear(cfg.input_dim, 4)\n"
    assert lines(source, "tests/test_model.py") == []
    assert lines(source, "pkg/testing/_internal/common_models.py") == []
    assert lines(source, "src/model.py") == [2]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("stat_dim", True),
        ("input_dim", True),
        ("in_features", True),
        ("n_features", True),
        ("d_in", True),
        ("obs_dim", True),
        ("stat_dim_override", True),
        ("hidden_dim", False),
        ("out_dim", False),
        ("embed_dim", False),
        ("action_dim", False),
        ("dim", False),
        ("num_classes", False),
        # a count of one kind of the data's features
        ("n_num_features", True),
        ("num_node_features", True),
        ("n_cat_features", True),
        ("n_in_features", True),
        ("n_features_in", True),
        ("n_num_features_override", True),
        # ... not when the kind says internal or output
        ("n_out_features", False),
        ("n_output_features", False),
        ("num_hidden_features", False),
        ("n_latent_features", False),
        ("num_pos_features", False),
        ("max_features", False),
        ("n_classes", False),
        ("n_heads", False),
        ("n_dim", False),
        ("fan_in", False),
        ("d_model_in", False),
        ("d_num_in", False),  # not a spelling seen in the wild: not guessed
        ("n_heads_in", False),
        ("_n_num_features", False),
    ],
)
def test_input_key_names(name: str, expected: bool) -> None:
    assert is_input_key(name) is expected


def test_silent_inside_model_definitions() -> None:
    source = """\
    from torch import nn
    class Embedding(nn.Module):
        def __init__(self, config):
            super().__init__()
            self.value = nn.Linear(config.feature_size, config.d_model)
            in_channels = config.in_channels
            self.conv = nn.Conv2d(in_channels, 8, 3)
    def build(config):
        return nn.Linear(config.feature_size, 8)
    """
    # ``build`` sizes a layer from the configuration its caller hands it, in a module
    # with no data in sight: the caller that has the data is the site (the index's).
    assert lines(source) == []
    # With data in sight, the factory is where the check belongs.
    loads = source.replace(
        "from torch import nn", "from torch import nn\n    from torch.utils.data import DataLoader"
    )
    assert lines(loads) == [10]


def test_a_name_bound_to_the_width_overrides_the_configured_key() -> None:
    source = """\
    def setup(cfg, loader):
        example = next(iter(loader))
        feat_dim = int(example["x"].shape[-1])
        cfg["model"]["in_dim"] = feat_dim
        return cfg
    """
    assert lines(source) == [4]


def test_a_tensor_sliced_by_a_shape_is_not_a_width() -> None:
    """A feature extractor (transformers' audio ones) trims a spectrogram to a multiple of
    a stride and stores it back under ``input_features``: data, not a width."""
    source = """\
    def extract(self, padded_mel, batch_size):
        audio_spectrogram = padded_mel["input_features"]
        trimmed_frames = audio_spectrogram.shape[1] - (audio_spectrogram.shape[1] % self.stride)
        audio_spectrogram = audio_spectrogram[:, :trimmed_frames, :].reshape(batch_size, -1)
        padded_mel["input_features"] = audio_spectrogram
        return padded_mel
    """
    assert lines(source) == []


NET = """\
from torch import nn


class Net(nn.Module):
    def __init__(self, d_token, n_num_features, n_blocks):
        super().__init__()
        self.tok = nn.Linear(n_num_features, d_token)
        self.blocks = nn.ModuleList(nn.Linear(d_token, d_token) for _ in range(n_blocks))


"""


def test_a_later_positional_width_is_decided_by_the_parameter_it_fills() -> None:
    # The class is in the module: the index maps the second argument to
    # ``n_num_features``, an input width the class hands to a layer.
    source = NET + (
        "def main(cfg, loader):\n"
        '    model = Net(cfg["model"]["d_token"], cfg["data"]["n_num_features"], 3)\n'
        "    for batch in loader:\n"
        "        model(batch)\n"
    )
    found = lint_source(source, "train.py", rules=[UncheckedInputDim])
    assert [(d.line, d.column) for d in found] == [(12, 42)]
    assert "input size `n_num_features` of Net (train.py:5), called here," in found[0].message
    # Compared with the data in the module: silent.
    checked = source.replace(
        "        model(batch)\n",
        '        assert batch.shape[-1] == cfg["data"]["n_num_features"]\n        model(batch)\n',
    )
    assert lint_source(checked, "train.py", rules=[UncheckedInputDim]) == []


def test_a_positional_width_into_a_parameter_that_is_no_input_is_silent() -> None:
    # The same configured width in the position of ``d_token`` (a model width, not the
    # data's): the parameter decides, and it does not size the input.
    source = NET + (
        "def main(cfg, loader):\n"
        '    model = Net(cfg["data"]["n_num_features"], cfg["model"]["d_token"], 3)\n'
        "    for batch in loader:\n"
        "        model(batch)\n"
    )
    # ``Net`` is named like a model: its first positional argument is its input size
    # whatever the class says (the shape known before the index), so only that one fires.
    assert lines(source) == [12]
    later = source.replace(
        'Net(cfg["data"]["n_num_features"], cfg["model"]["d_token"], 3)',
        'Net(cfg["model"]["d_token"], 3, cfg["data"]["n_num_features"])',
    )
    assert lines(later) == []  # it lands on ``n_blocks``


def test_a_later_positional_width_of_a_library_layer_is_not_guessed() -> None:
    # nn.Bilinear's second input size: the index cannot follow a library class, and
    # only a first positional argument is taken as a layer's input size.
    source = "from torch import nn\nlayer = nn.Bilinear(cfg.hidden, cfg.n_features, 1)\n"
    assert lines(source) == []
    assert lines(source.replace("cfg.hidden, cfg.n_features", "cfg.n_features, cfg.hidden")) == [2]


def test_a_model_section_next_to_an_explicit_width_carries_no_width() -> None:
    # ``**mcfg`` fills what the positional width leaves: the finding is the width's only.
    source = NET.replace(
        "d_token, n_num_features, n_blocks", "n_num_features, d_token, n_blocks"
    ) + (
        "def main(cfg, loader):\n"
        '    mcfg = cfg["model"]\n'
        '    model = Net(cfg["data"]["n_num_features"], **mcfg)\n'
        "    for batch in loader:\n"
        "        model(batch)\n"
    )
    found = lint_source(source, "train.py", rules=[UncheckedInputDim])
    assert [(d.line, d.column) for d in found] == [(13, 17)]
    # Alone, the section is what carries the width into the model.
    alone = source.replace('Net(cfg["data"]["n_num_features"], **mcfg)', "Net(**mcfg)")
    found = lint_source(alone, "train.py", rules=[UncheckedInputDim])
    assert [(d.line, d.column) for d in found] == [(13, 19)]


def test_an_override_of_a_feature_count_is_reported() -> None:
    source = """\
    def finetune(cfg, table):
        x_num, y = load_split(table)
        cfg["data"]["n_num_features"] = x_num.shape[1]
        return cfg
    """
    assert lines(source) == [3]
    assert lines(source.replace("n_num_features", "n_out_features")) == []


def test_a_width_only_the_index_decides_needs_configuration_and_data_in_sight() -> None:
    # A data dict's key named like a width is data, not configuration (a feature
    # extractor normalising ``inputs["input_features"]``).
    source = """\
    class Extractor:
        def normalize(self, input_features, mask):
            return [x - x.mean() for x in input_features], mask

        def __call__(self, padded, mask, batch):
            padded["input_features"] = self.normalize(padded["input_features"], mask)
            return padded, batch
    """
    assert lines(source) == []
    # A weight converter sizing an op from a config, with no batch or loader in sight.
    converter = """\
    class Conv3dToLinear:
        def __init__(self, in_channels, kernel_size):
            self.in_channels = in_channels
            self.kernel_size = kernel_size


    def make_transforms(config):
        vision_config = config.vision_config
        return [Conv3dToLinear(config.vision_config.in_channels, vision_config.patch_size)]
    """
    assert lines(converter) == []
    training = converter.replace(
        "def make_transforms(config):", "def make_transforms(config, loader):"
    ).replace("    return [", "    next(iter(loader))\n    return [")
    assert lines(training) == [10]
