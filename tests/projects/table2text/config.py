from dataclasses import dataclass, field, fields

import yaml


@dataclass
class ModelConfig:
    n_cell_features: int = 12
    d_model: int = 384
    n_heads: int = 6
    n_layers: int = 4
    vocab_size: int = 32000


@dataclass
class RunConfig:
    data_dir: str = "data/totto"
    output_dir: str = "out"
    lr: float = 3e-4
    batch_size: int = 32
    model: ModelConfig = field(default_factory=ModelConfig)

    @classmethod
    def from_dict(cls, d):
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in known and k != "model"}
        return cls(model=ModelConfig(**d.get("model", {})), **kw)

    @classmethod
    def from_yaml(cls, path):
        with open(path) as f:
            return cls.from_dict(yaml.safe_load(f))
