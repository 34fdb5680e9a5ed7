from dataclasses import dataclass


@dataclass
class SepConfig:
    sample_rate: int = 8000
    n_src: int = 2
    enc_kernel: int = 16
    enc_channels: int = 256
    d_model: int = 256
    n_heads: int = 8
    n_blocks: int = 2
    chunk: int = 250
    lr: float = 1.5e-4
    clip: float = 5.0
    epochs: int = 200
    batch_size: int = 1
    segment_seconds: float = 4.0
