"""AL201 across modules, the shapes the seventh and eighth blind rounds found: where the
data is in sight, configuration classes, a factory handing on a part of its
configuration, an alias of the configuration, and a trainer class named after its model."""

from __future__ import annotations

from pathlib import Path

import pytest
from _index_repos import check, line_of, where, write_repo

MODEL = """\
    from torch import nn


    class EventEncoder(nn.Module):
        def __init__(self, n_event_features, d_model):
            super().__init__()
            self.proj = nn.Linear(n_event_features, d_model)
            layer = nn.TransformerEncoderLayer(d_model, 4, batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, 2)

        def forward(self, x):
            batch_size = x.size(0)
            return self.encoder(self.proj(x)).reshape(batch_size, -1)


    def build(cfg):
        return EventEncoder(cfg.n_event_features, cfg.d_model)
    """

TRAIN = """\
    from dataclasses import dataclass

    from pkg.model import build


    @dataclass
    class TrainConfig:
        n_event_features: int = 32
        d_model: int = 64


    def main(loader):
        cfg = TrainConfig()
        model = build(cfg)
        for batch in loader:
            model(batch["x"]).sum().backward()
    """


def test_model_code_with_batch_first_does_not_see_data(tmp_path: Path) -> None:
    """``batch_first=True`` and ``batch_size = x.size(0)`` are model code: the finding is
    the caller's, where the batches are."""
    write_repo(tmp_path, {"pkg/__init__.py": "", "pkg/model.py": MODEL, "train.py": TRAIN})
    found = check(tmp_path, codes=("AL201",))
    assert where(found) == [("train.py", line_of(tmp_path, "train.py", "build(cfg)"), "AL201")]
    helper = line_of(tmp_path, "pkg/model.py", "def build")
    assert f"`n_event_features` into build (pkg/model.py:{helper})" in found[0].message


@pytest.mark.parametrize("base", ["", "(dict)", "(PretrainedConfig)"])
def test_a_configuration_class_sizes_nothing(tmp_path: Path, base: str) -> None:
    """A ``*Config`` class that stores the width is not the model: one finding, where the
    model is built from it."""
    model = """\
        from torch import nn


        class ChurnConfig{base}:
            def __init__(self, n_activity_features=24, d_model=128, **kwargs):
                self.n_activity_features = n_activity_features
                self.d_model = d_model


        class ChurnModel(nn.Module):
            def __init__(self, config):
                super().__init__()
                self.activity = nn.Linear(config.n_activity_features, config.d_model)


        def main(args, loader):
            config = ChurnConfig(n_activity_features=args.n_activity_features)
            model = ChurnModel(config)
            for batch in loader:
                model(batch["x"])
        """.replace("{base}", base)
    write_repo(tmp_path, {"churn.py": model})
    line = line_of(tmp_path, "churn.py", "model = ChurnModel(config)")
    assert where(check(tmp_path, codes=("AL201",))) == [("churn.py", line, "AL201")]


FACTORY = """\
    from torch import nn


    class FusionNet(nn.Module):
        def __init__(self, mcfg):
            super().__init__()
            c = mcfg
            self.radar = nn.Linear(c.radar_dim, 64)


    def build(cfg):
        return FusionNet(cfg.model)
    """

FIT = """\
    from pkg.config import FusionConfig
    from pkg.net import build


    def fit(loader):
        cfg = FusionConfig()
        model = build(cfg)
        for batch in loader:
            model(batch["radar"])
    """


def test_a_factory_handing_on_a_part_of_its_configuration(tmp_path: Path) -> None:
    """``build(cfg)`` -> ``FusionNet(cfg.model)`` -> ``c = mcfg`` -> ``c.radar_dim``."""
    config = "class FusionConfig:\n    def __init__(self):\n        self.model = None\n"
    write_repo(
        tmp_path,
        {"pkg/__init__.py": "", "pkg/config.py": config, "pkg/net.py": FACTORY, "fit.py": FIT},
    )
    found = check(tmp_path, codes=("AL201",))
    assert where(found) == [("fit.py", line_of(tmp_path, "fit.py", "build(cfg)"), "AL201")]
    assert "`radar_dim`" in found[0].message
    # compared with the data: silent
    checked = FIT.replace(
        "        for batch in loader:",
        '        first = next(iter(loader))\n        assert first["radar"].shape[-1] == '
        "cfg.model.radar_dim\n        for batch in loader:",
    )
    write_repo(tmp_path, {"fit.py": checked})
    assert check(tmp_path, codes=("AL201",)) == []


def test_a_part_of_a_tensor_or_of_self_is_not_a_configuration(tmp_path: Path) -> None:
    """``Head(self.num_features)`` and ``proj(x[0])`` hand on no configuration."""
    model = """\
        from torch import nn


        class Head(nn.Module):
            def __init__(self, in_features, n_classes):
                super().__init__()
                self.fc = nn.Linear(in_features, n_classes)


        class Backbone(nn.Module):
            def __init__(self, width, **kwargs):
                super().__init__()
                self.num_features = width
                self.head = Head(self.num_features, 10)


        def build(**kwargs):
            return Backbone(64, **dict(device=kwargs.get("device")))
        """
    caller = """\
        from pkg.backbone import build


        def main(loader, options):
            model = build(**options)
            for batch in loader:
                model(batch)
        """
    write_repo(tmp_path, {"pkg/__init__.py": "", "pkg/backbone.py": model, "main.py": caller})
    assert check(tmp_path, codes=("AL201",)) == []


def test_a_trainer_named_after_its_model_is_training_code(tmp_path: Path) -> None:
    trainer = """\
        from torch import nn


        class WorldModel(nn.Module):
            def __init__(self, obs_dim, action_dim):
                super().__init__()
                self.embed = nn.Linear(obs_dim + action_dim, 256)


        class WorldModelTrainer:
            def __init__(self, cfg):
                self.model = WorldModel(cfg.obs_dim, cfg.action_dim)

            def fit(self, loader):
                for batch in loader:
                    self.model(batch["obs"])
        """
    write_repo(tmp_path, {"wm.py": trainer})
    line = line_of(tmp_path, "wm.py", "self.model = WorldModel(")
    assert where(check(tmp_path, codes=("AL201",))) == [("wm.py", line, "AL201")]


def test_a_lightning_module_with_a_training_step_is_training_code(tmp_path: Path) -> None:
    module = """\
        import lightning as L
        from torch import nn


        class GroundingModule(L.LightningModule):
            def __init__(self, **hparams):
                super().__init__()
                self.save_hyperparameters()
                self.proj = nn.Linear(self.hparams.region_feat_dim, self.hparams.d_model)

            def training_step(self, batch, batch_idx):
                return self.proj(batch["regions"]).mean()


        class RegionEncoder(L.LightningModule):  # no training step: model code
            def __init__(self, **hparams):
                super().__init__()
                self.save_hyperparameters()
                self.proj = nn.Linear(self.hparams.region_feat_dim, self.hparams.d_model)
        """
    write_repo(tmp_path, {"module.py": module})
    line = line_of(tmp_path, "module.py", "self.proj = nn.Linear(")
    assert where(check(tmp_path, codes=("AL201",))) == [("module.py", line, "AL201")]


def test_a_configuration_from_a_classmethod_constructor(tmp_path: Path) -> None:
    """``ClaimsConfig.from_yaml(path)`` makes a configuration as ``ClaimsConfig(...)`` does;
    ``OmegaConf.load(path)`` handed to a function that builds the model is that function's
    to check, not the call's."""
    code = """\
        import yaml
        from torch import nn


        class ClaimsConfig:
            def __init__(self, n_num_features=12, d=64):
                self.n_num_features = n_num_features
                self.d = d

            @classmethod
            def from_yaml(cls, path):
                with open(path) as f:
                    return cls(**yaml.safe_load(f))


        class ClaimsNet(nn.Module):
            def __init__(self, cfg):
                super().__init__()
                self.num = nn.Linear(cfg.n_num_features, cfg.d)


        def main(path, loader):
            cfg = ClaimsConfig.from_yaml(path)
            model = ClaimsNet(cfg)
            for batch in loader:
                model(batch["num"])
        """
    write_repo(tmp_path, {"claims.py": code})
    line = line_of(tmp_path, "claims.py", "model = ClaimsNet(cfg)")
    assert where(check(tmp_path, codes=("AL201",))) == [("claims.py", line, "AL201")]


def test_in_chans_is_an_input_width_and_kwargs_are_not_a_configuration(tmp_path: Path) -> None:
    code = """\
        from torch import nn


        class Stem(nn.Module):
            def __init__(self, in_chans=3, dim=64):
                super().__init__()
                self.conv = nn.Conv2d(in_chans, dim, 4, stride=4)


        def stem_from(**kwargs):  # a library-style factory: the caller's arguments
            return Stem(kwargs.get("in_chans", 3), **_device_of(**kwargs))


        def _device_of(**kwargs):
            return {}


        def main(cfg, loader):
            model = Stem(in_chans=cfg.in_chans)
            for batch in loader:
                model(batch["image"])
        """
    write_repo(tmp_path, {"stem.py": code})
    line = line_of(tmp_path, "stem.py", "model = Stem(in_chans=")
    assert where(check(tmp_path, codes=("AL201",))) == [("stem.py", line, "AL201")]


def test_a_lightning_module_built_from_a_new_configuration_is_one_finding(
    tmp_path: Path,
) -> None:
    """The width read in the module's ``__init__`` is the finding; the module's
    construction from ``Cfg()`` hands on no configuration part (``cfg.model.in_chans`` is
    a width, reported where it is read)."""
    code = """\
        from dataclasses import dataclass, field

        import lightning as L
        from torch import nn


        class RoadNet(nn.Module):
            def __init__(self, width, in_chans):
                super().__init__()
                self.stem = nn.Conv2d(in_chans, width, 3)


        @dataclass
        class ModelCfg:
            width: int = 32
            in_chans: int = 3


        @dataclass
        class Cfg:
            model: ModelCfg = field(default_factory=ModelCfg)


        class RoadModule(L.LightningModule):
            def __init__(self, cfg):
                super().__init__()
                self.net = RoadNet(cfg.model.width, cfg.model.in_chans)

            def training_step(self, batch, batch_idx):
                return self.net(batch["image"]).mean()


        def main(train):
            cfg = Cfg()
            L.Trainer(max_epochs=1).fit(RoadModule(cfg), train)
        """
    write_repo(tmp_path, {"roads.py": code})
    line = line_of(tmp_path, "roads.py", "self.net = RoadNet(")
    assert where(check(tmp_path, codes=("AL201",))) == [("roads.py", line, "AL201")]
