from .losses import focal_loss
from .model import FraudNet, build

__all__ = ["FraudNet", "build", "focal_loss"]
