from .vit import MAEViT  # noqa: F401
