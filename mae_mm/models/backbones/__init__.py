from .vit import MAEViT

__all__ = ['MAEViT']
