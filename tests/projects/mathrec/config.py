from dataclasses import asdict, dataclass, field


@dataclass
class ModelConfig:
    n_stroke_features: int = 7
    d_model: int = 256
    heads: int = 8
    enc_layers: int = 4
    vocab_size: int = 113
    dec_hidden: int = 256
    coverage_kernel: int = 11


@dataclass
class TrainConfig:
    data_root: str = "data/crohme_online"
    epochs: int = 200
    micro_batch: int = 16
    max_norm: float = 100.0
    model: ModelConfig = field(default_factory=ModelConfig)

    @classmethod
    def from_dict(cls, d):
        d = dict(d)
        model = ModelConfig(**d.pop("model", {}))
        return cls(model=model, **d)

    def to_dict(self):
        return asdict(self)
