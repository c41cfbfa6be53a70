from .mae_head import MAEHead, patchify, unpatchify

__all__ = ['MAEHead', 'patchify', 'unpatchify']
