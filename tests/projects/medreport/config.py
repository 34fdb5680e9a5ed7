from dataclasses import dataclass


@dataclass
class ReportConfig:
    visual_feat_dim: int = 2048
    d_model: int = 512
    n_heads: int = 8
    n_layers: int = 3
    vocab_size: int = 8000
    max_len: int = 120
    lr: float = 1e-4
    epochs: int = 30
    max_grad_norm: float = 0.5
    amp: bool = True
    pad_id: int = 0
