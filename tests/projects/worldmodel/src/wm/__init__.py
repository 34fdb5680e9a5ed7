from .losses import kl_balance, symlog_mse
from .model import TransformerWorldModel

__all__ = ["TransformerWorldModel", "kl_balance", "symlog_mse"]
