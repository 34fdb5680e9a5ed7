from .lit import CrossTransformerLit

__all__ = ["CrossTransformerLit"]
