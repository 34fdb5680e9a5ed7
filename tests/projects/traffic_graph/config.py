from dataclasses import dataclass


@dataclass
class TrainConfig:
    num_node_features: int = 2
    n_nodes: int = 207
    d_model: int = 64
    heads: int = 4
    horizon: int = 12
    lr: float = 1e-3
    max_norm: float = 5.0
    epochs: int = 100
