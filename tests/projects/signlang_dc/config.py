from dataclasses import dataclass, field


@dataclass
class ModelConfig:
    input_dim: int = 3 * 75
    d_model: int = 256
    heads: int = 8
    depth: int = 4
    num_classes: int = 250
    dropout: float = 0.1


@dataclass
class TrainConfig:
    data: str = "data/isl_landmarks.pt"
    epochs: int = 60
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.05
    max_grad_norm: float = 2.0
    model: ModelConfig = field(default_factory=ModelConfig)
