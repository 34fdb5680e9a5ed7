from dataclasses import dataclass, field


@dataclass
class ModelConfig:
    radar_dim: int = 5
    lidar_dim: int = 4
    d_model: int = 128
    n_heads: int = 4
    n_classes: int = 10


@dataclass
class FusionConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    lr: float = 2e-4
    max_norm: float = 10.0
    epochs: int = 24
    batch_size: int = 8
