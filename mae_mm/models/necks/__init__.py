from .layer_norm_2d import LayerNorm2d
from .mae_decoder import MAEDecoder
from .simple_fpn import SimpleFPN
from .vit_pyramid import ViTPyramid

__all__ = ['LayerNorm2d', 'MAEDecoder', 'SimpleFPN', 'ViTPyramid']
