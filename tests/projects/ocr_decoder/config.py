from dataclasses import dataclass, field


@dataclass
class ModelConfig:
    in_channels: int = 1
    d_model: int = 256
    n_heads: int = 8
    vocab_size: int = 98
    max_len: int = 64


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    lr: float = 5e-4
    max_norm: float = 5.0
    epochs: int = 30
    pad_id: int = 0
