"""AL201 across functions and modules: small training repositories, checked as a project.

The seed's override through a helper, the data's width handed to a model constructor
while configured, configured widths travelling in a params dict or a config object; and
the look-alikes that must stay silent (compared widths, model code reading its own
config, blocks rebuilt from another block's config, converters with no data in sight).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _index_repos import check, line_of, where, write_repo

DEEPSET = """\
    import torch
    from torch import nn


    class DeepSetRank(nn.Module):
        def __init__(self, stat_dim: int, hidden: int, heads: int) -> None:
            super().__init__()
            self.encoder = nn.Sequential(nn.Linear(stat_dim, hidden), nn.ReLU())
            self.attn = nn.MultiheadAttention(hidden, heads, batch_first=True)
            self.score = nn.Linear(hidden, 1)

        def forward(self, stats: torch.Tensor) -> torch.Tensor:
            h = self.encoder(stats)
            h, _ = self.attn(h, h, h, need_weights=False)
            return self.score(h).squeeze(-1)
    """

FACTORY = """\
    from .deepset import DeepSetRank


    def make_model(cfg, stat_dim_override=None):
        mcfg = cfg["model_a"]
        stat_dim = mcfg["stat_dim"]
        if stat_dim_override is not None:
            stat_dim = stat_dim_override
        return DeepSetRank(stat_dim=stat_dim, hidden=mcfg["hidden"], heads=mcfg["heads"])
    """

TRAIN_OVERRIDE = """\
    import logging

    import yaml

    from ranker.data import make_loader
    from ranker.models import make_model

    log = logging.getLogger(__name__)


    def main(path):
        with open(path) as handle:
            cfg = yaml.safe_load(handle)
        loader = make_loader(cfg)
        first = next(iter(loader), None)
        data_dim = int(first["player_stats"].shape[-1]) if first is not None else None
        model = make_model(cfg, stat_dim_override=data_dim)
        log.info("model ready: %s", model)
        return model
    """

RANKER = {
    "ranker/__init__.py": "",
    "ranker/data.py": "def make_loader(cfg):\n    return []\n",
    "ranker/models/__init__.py": "from .factory import make_model\n\n__all__ = ['make_model']\n",
    "ranker/models/deepset.py": DEEPSET,
    "ranker/models/factory.py": FACTORY,
    "train.py": TRAIN_OVERRIDE,
}


def test_override_through_a_helper_in_another_module(tmp_path: Path) -> None:
    root = write_repo(tmp_path, RANKER)
    found = check(root, codes=("AL201",))
    call = line_of(root, "train.py", "make_model(cfg, stat_dim_override")
    assert where(found) == [("train.py", call, "AL201")]
    (finding,) = found
    assert finding.column == len("    model = make_model(cfg, stat_dim_override=") + 1
    helper = line_of(root, "ranker/models/factory.py", "def make_model")
    assert f"make_model (ranker/models/factory.py:{helper}), called here" in finding.message
    assert "`stat_dim`" in finding.message


def test_override_through_a_method_set_in_an_if(tmp_path: Path) -> None:
    trainer = """\
        from ranker.models.deepset import DeepSetRank


        class Trainer:
            def __init__(self, cfg):
                self.cfg = cfg

            def build(self, stat_dim_override=None):
                stat_dim = stat_dim_override or self.cfg.model.stat_dim
                return DeepSetRank(stat_dim, self.cfg.model.hidden, self.cfg.model.heads)

            def fit(self, loader):
                batch = next(iter(loader), None)
                if batch is not None:
                    width = batch["player_stats"].size(-1)
                else:
                    width = None
                self.model = self.build(stat_dim_override=width)
        """
    root = write_repo(tmp_path, {**RANKER, "ranker/trainer.py": trainer})
    found = check(root, ["ranker/trainer.py"], codes=("AL201",))
    line = line_of(root, "ranker/trainer.py", "self.build(stat_dim_override")
    assert where(found) == [("ranker/trainer.py", line, "AL201")]
    assert "Trainer.build (ranker/trainer.py:8)" in found[0].message


def test_override_silent_when_compared(tmp_path: Path) -> None:
    compared = TRAIN_OVERRIDE.replace(
        "        model = make_model(",
        '        if data_dim is not None and data_dim != cfg["model_a"]["stat_dim"]:\n'
        '            raise ValueError(f"stat_dim mismatch: {data_dim}")\n'
        "        model = make_model(",
    )
    root = write_repo(tmp_path, {**RANKER, "train.py": compared})
    assert check(root, codes=("AL201",)) == []


@pytest.mark.parametrize(
    ("condition", "fires"),
    [
        # another axis of the same batch (the sequence length): says nothing of the width
        ('first["player_stats"].shape[1] <= cfg["max_players"]', True),
        # another tensor's shape
        ('first["rel"].shape[-1] == first["player_stats"].shape[1]', True),
        # the same axis, the whole shape, or the width's own name
        ('first["player_stats"].shape[-1] == cfg["model_a"]["stat_dim"]', False),
        ('first["player_stats"].shape[2:] == (21,)', False),
        ('data_dim == cfg["model_a"]["stat_dim"]', False),
    ],
)
def test_override_silenced_only_by_a_check_of_the_width_handed_on(
    tmp_path: Path, condition: str, fires: bool
) -> None:
    direct = TRAIN_OVERRIDE.replace(
        "make_model(cfg, stat_dim_override=data_dim)",
        'make_model(cfg, stat_dim_override=first["player_stats"].shape[-1])',
    )
    if "data_dim ==" not in condition:
        direct = direct.replace("        data_dim = int(", "        unused = int(")
    checked = direct.replace(
        "        model = make_model(", f"        assert {condition}\n        model = make_model("
    )
    root = write_repo(tmp_path, {**RANKER, "train.py": checked})
    found = where(check(root, codes=("AL201",)))
    assert bool(found) is fires, found


def test_override_silent_when_the_helper_compares(tmp_path: Path) -> None:
    checked = FACTORY.replace(
        "            stat_dim = stat_dim_override\n",
        "            if stat_dim_override != stat_dim:\n"
        '                raise ValueError("configured stat_dim does not match the data")\n',
    )
    root = write_repo(tmp_path, {**RANKER, "ranker/models/factory.py": checked})
    assert check(root, codes=("AL201",)) == []


def test_data_width_to_a_helper_that_does_not_override_is_silent(tmp_path: Path) -> None:
    plain = """\
        from .deepset import DeepSetRank


        def make_model(cfg, stat_dim_override=None):
            print("requested", stat_dim_override)
            return DeepSetRank(stat_dim=64, hidden=cfg["model_a"]["hidden"], heads=4)
        """
    root = write_repo(tmp_path, {**RANKER, "ranker/models/factory.py": plain})
    assert check(root, codes=("AL201",)) == []


def test_data_width_positional_to_a_model_while_configured(tmp_path: Path) -> None:
    train = """\
        import torch
        from omegaconf import OmegaConf

        from ranker.models.deepset import DeepSetRank


        def main():
            cfg = OmegaConf.load("config.yaml")
            print("configured features:", cfg.data.stat_dim)
            stats = torch.load(cfg.data.path)
            model = DeepSetRank(stats.shape[-1], cfg.model.hidden, cfg.model.heads)
            return model
        """
    root = write_repo(tmp_path, {**RANKER, "train.py": train})
    found = check(root, codes=("AL201",))
    line = line_of(root, "train.py", "model = DeepSetRank(")
    assert where(found) == [("train.py", line, "AL201")]
    assert "DeepSetRank (ranker/models/deepset.py:6)" in found[0].message
    assert "configuration holds its own `stat_dim`" in found[0].message


def test_data_width_positional_without_a_configured_width_is_silent(tmp_path: Path) -> None:
    train = """\
        import torch

        from ranker.models.deepset import DeepSetRank


        def main(cfg):
            stats = torch.load(cfg.data.path)
            return DeepSetRank(stats.shape[-1], cfg.model.hidden, cfg.model.heads)
        """
    root = write_repo(tmp_path, {**RANKER, "train.py": train})
    assert check(root, codes=("AL201",)) == []


PARAMS_TRAIN = """\
    import json

    from models.build import build
    from training import fit, make_loader


    def main(path):
        with open(path) as handle:
            cfg = json.load(handle)
        params = dict(cfg["model"])
        params.update(stat_dim=cfg["data"]["stat_dim"])
        model = build(params)
        fit(model, make_loader(cfg["data"]), epochs=cfg["train"]["epochs"])
    """

PARAMS_REPO = {
    "models/__init__.py": "",
    "models/build.py": (
        "from models.net import SetRanker\n\n\ndef build(params):\n    return SetRanker(**params)\n"
    ),
    "models/net.py": """\
        from torch import nn


        class SetRanker(nn.Module):
            def __init__(self, stat_dim, hidden, dropout=0.1):
                super().__init__()
                self.proj = nn.Linear(stat_dim, hidden)
                self.drop = nn.Dropout(dropout)
        """,
    "train.py": PARAMS_TRAIN,
}


def test_configured_width_through_a_params_dict_into_another_module(tmp_path: Path) -> None:
    root = write_repo(tmp_path, PARAMS_REPO)
    found = check(root, codes=("AL201",))
    line = line_of(root, "train.py", "model = build(params)")
    assert where(found) == [("train.py", line, "AL201")]
    assert "build (models/build.py:4), called here" in found[0].message
    assert "`stat_dim`" in found[0].message


@pytest.mark.parametrize(
    "build",
    [
        "def build(params):\n    params = dict(params)\n    return SetRanker(**params)\n",
        "def build(params):\n    params = {**params}\n    return SetRanker(**params)\n",
        # a registry of one class, the name popped first
        'MODELS = {"set": SetRanker}\n\n\ndef build(params):\n    params = params.copy()\n'
        '    name = params.pop("name", "set")\n    return MODELS[name](**params)\n',
    ],
    ids=["dict-copy", "unpacked-copy", "registry"],
)
def test_configured_width_through_a_factory_that_copies_or_looks_up(
    tmp_path: Path, build: str
) -> None:
    """A factory's defensive copy of its params, or a lookup in a registry of one class,
    still hands the caller's width to the model."""
    repo = {**PARAMS_REPO, "models/build.py": "from models.net import SetRanker\n\n\n" + build}
    root = write_repo(tmp_path, repo)
    found = check(root, codes=("AL201",))
    line = line_of(root, "train.py", "model = build(params)")
    assert where(found) == [("train.py", line, "AL201")]


def test_a_registry_of_several_models_is_not_guessed_from(tmp_path: Path) -> None:
    build = (
        'from models.net import SetRanker\n\nMODELS = {"set": SetRanker, "mlp": dict}\n\n\n'
        'def build(params):\n    return MODELS[params.pop("name")](**params)\n'
    )
    root = write_repo(tmp_path, {**PARAMS_REPO, "models/build.py": build})
    assert check(root, codes=("AL201",)) == []


def test_configured_width_through_a_config_object(tmp_path: Path) -> None:
    net = """\
        from torch import nn


        class Ranker(nn.Module):
            def __init__(self, mcfg):
                super().__init__()
                self.proj = nn.Linear(mcfg.stat_dim, mcfg.hidden)
        """
    train = """\
        from omegaconf import OmegaConf

        import models.net as nets


        def main(loader):
            cfg = OmegaConf.load("config.yaml")
            model = nets.Ranker(cfg.model)
            for batch in loader:
                model(batch)
        """
    root = write_repo(tmp_path, {"models/__init__.py": "", "models/net.py": net, "train.py": train})
    found = check(root, codes=("AL201",))
    assert where(found) == [("train.py", 8, "AL201")]
    assert "Ranker (models/net.py:5)" in found[0].message


def test_an_object_whose_width_was_just_set_carries_no_configured_width(
    tmp_path: Path,
) -> None:
    """``cfg["model"]["in_features"] = feats.shape[-1]`` then ``Model(**cfg["model"])``:
    one finding, at the override; the object handed on holds the data's width. An object
    whose width was not set keeps its finding."""
    net = """\
        from torch import nn


        class MIL(nn.Module):
            def __init__(self, in_features, hidden=128):
                super().__init__()
                self.proj = nn.Linear(in_features, hidden)
        """
    train = """\
        import json

        from models.net import MIL


        def main(loader, path):
            cfg = json.load(open(path))
            feats = next(iter(loader))[0]
            cfg["model"]["in_features"] = feats.shape[-1]
            model = MIL(**cfg["model"])
            head = MIL(**cfg["head"])
            for batch in loader:
                model(batch)
        """
    root = write_repo(tmp_path, {"models/__init__.py": "", "models/net.py": net, "train.py": train})
    found = check(root, codes=("AL201",))
    assert where(found) == [("train.py", 9, "AL201"), ("train.py", 11, "AL201")]
    assert "overridden by the data's shape" in found[0].message
    assert "carries the configured" in found[1].message


def test_configuration_into_a_model_without_data_in_sight_is_silent(tmp_path: Path) -> None:
    # A checkpoint converter: a model built from a configuration, no batch anywhere.
    train = PARAMS_TRAIN.replace(
        '        fit(model, make_loader(cfg["data"]), epochs=cfg["train"]["epochs"])\n',
        '        model.save_pretrained(cfg["out"])\n',
    ).replace("    from training import fit, make_loader\n", "")
    root = write_repo(tmp_path, {**PARAMS_REPO, "train.py": train})
    assert check(root, codes=("AL201",)) == []


def test_params_dict_silent_when_the_caller_compares(tmp_path: Path) -> None:
    train = PARAMS_TRAIN.replace(
        "        model = build(params)\n",
        "        first = load_first_batch(cfg)\n"
        '        assert first.shape[-1] == params["stat_dim"], "stat_dim does not match the data"\n'
        "        model = build(params)\n",
    )
    root = write_repo(tmp_path, {**PARAMS_REPO, "train.py": train})
    assert check(root, codes=("AL201",)) == []


def test_model_code_reading_its_own_config_is_silent(tmp_path: Path) -> None:
    # Library-style model code: sub-modules sized from the model's config, a block rebuilt
    # from another block's config, a model built from a config the caller was handed.
    modeling = """\
        from torch import nn


        class FooProjector(BarProjector):
            def __init__(self, config):
                super().__init__(config)
                self.linear = nn.Linear(config.adaptor_input_dim, config.hidden_size)


        class FooModel(FooPreTrainedModel):
            def __init__(self, config):
                super().__init__(config)
                self.projector = FooProjector(config)


        def convert(pipeline):
            block = pipeline.unet.blocks[0]
            config = block.config
            return DualTransformer(in_channels=config.in_channels, num_layers=config.num_layers)


        def from_config(config):
            return FooModel(config)
        """
    root = write_repo(tmp_path, {"foo/__init__.py": "", "foo/modeling_foo.py": modeling})
    assert check(root, codes=("AL201",)) == []


def test_blocks_of_oddly_named_model_classes_are_silent(tmp_path: Path) -> None:
    # A model class named neither ...Model nor ...Module, subclassing another project
    # class, building blocks from values of its config (not sections of it).
    modeling = """\
        from torch import nn


        class ResidualBlock(nn.Module):
            def __init__(self, input_dims, hidden_dims, output_dims):
                super().__init__()
                self.fc = nn.Linear(input_dims, hidden_dims)
                self.out = nn.Linear(hidden_dims, output_dims)


        class EncoderWithSVTR(ServerRecEncoderWithSVTR):
            def __init__(self, config):
                super().__init__(config)
                in_channels = config.backbone_config.block_configs[-1][-1][2]
                self.conv = ConvLayer(in_channels=in_channels, out_channels=config.hidden_size)

            def forward(self, x):
                return self.conv(x)


        class ForPrediction(TimesFmForPrediction):
            def __init__(self, config):
                super().__init__(config)
                self.block = ResidualBlock(
                    input_dims=config.hidden_size,
                    hidden_dims=config.intermediate_size,
                    output_dims=config.horizon_length,
                )
        """
    conv = """\
        from torch import nn


        class ConvLayer(nn.Module):
            def __init__(self, in_channels, out_channels):
                super().__init__()
                self.conv = nn.Conv2d(in_channels, out_channels, 3)
        """
    files = {"m/__init__.py": "", "m/modeling.py": modeling, "m/conv.py": conv}
    root = write_repo(tmp_path, files)
    assert check(root, codes=("AL201",)) == []


TABULAR_MODEL = """\
    import torch
    from torch import nn


    class NumericalTokenizer(nn.Module):
        def __init__(self, n_num_features, d_token):
            super().__init__()
            self.weight = nn.Parameter(torch.empty(n_num_features, d_token))


    class Tabular(nn.Module):
        def __init__(self, cat_cardinalities, n_num_features, d_token, n_blocks):
            super().__init__()
            self.num_tok = NumericalTokenizer(n_num_features, d_token)
            self.cat = nn.Embedding(sum(cat_cardinalities), d_token)
            self.blocks = nn.ModuleList(nn.Linear(d_token, d_token) for _ in range(n_blocks))
    """

TABULAR_TRAIN = """\
    from config import CFG
    from model import Tabular


    def main(loader):
        mcfg = CFG["model"]
        model = Tabular(CFG["data"]["cat_cardinalities"], CFG["data"]["n_num_features"], **mcfg)
        for x_num, x_cat, y in loader:
            model(x_num, x_cat)
    """


def _tabular(tmp_path: Path, train: str = TABULAR_TRAIN) -> Path:
    files = {
        "config.py": 'CFG = {"data": {"n_num_features": 6}, "model": {"d_token": 8}}\n',
        "model.py": TABULAR_MODEL,
        "train.py": train,
    }
    return write_repo(tmp_path, files)


def test_a_configured_width_in_a_later_position_of_a_project_model(tmp_path: Path) -> None:
    # The second positional argument fills ``n_num_features``, which the class hands to its
    # tokenizer; ``**mcfg`` beside it carries no input width.
    root = _tabular(tmp_path)
    found = check(root, codes=("AL201",))
    assert [(f.path, f.line, f.column) for f in found] == [("train.py", 7, 55)]
    assert "input size `n_num_features` of Tabular (model.py:12), called here," in found[0].message
    # Only the caller checked (pre-commit): the class is summarised from its module.
    assert where(check(root, ["train.py"], codes=("AL201",))) == [("train.py", 7, "AL201")]


def test_a_compared_or_unfollowed_positional_width_is_silent(tmp_path: Path) -> None:
    compared = TABULAR_TRAIN.replace(
        "            model(x_num, x_cat)",
        '            assert x_num.shape[1] == CFG["data"]["n_num_features"]\n'
        "            model(x_num, x_cat)",
    )
    assert check(_tabular(tmp_path / "compared", compared), codes=("AL201",)) == []
    # A class the index cannot find (not in the project): a later position is not guessed.
    elsewhere = TABULAR_TRAIN.replace("from model import Tabular", "from tabkit import Tabular")
    assert check(_tabular(tmp_path / "elsewhere", elsewhere), codes=("AL201",)) == []
