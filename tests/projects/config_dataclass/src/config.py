from dataclasses import dataclass, field


@dataclass
class ModelConfig:
    input_dim: int = 48
    d_model: int = 256
    n_heads: int = 8
    n_layers: int = 4
    max_len: int = 512


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    lr: float = 3e-4
    max_norm: float = 1.0
    epochs: int = 10
    batch_size: int = 64
    gamma: float = 2.0
