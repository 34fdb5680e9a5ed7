from . import vit  # noqa: F401
from .registry import create_model, register_model

__all__ = ["create_model", "register_model"]
