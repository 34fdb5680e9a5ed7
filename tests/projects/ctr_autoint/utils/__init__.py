from .metrics import auc_logloss
from .optim import unscale_and_clip, warmup_cosine

__all__ = ["auc_logloss", "unscale_and_clip", "warmup_cosine"]
