"""LayerNorm over the channels of (B, C, H, W) maps: ViTDet's norm for necks and heads."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from mae_mm.registry import MODELS


@MODELS.register_module(name='LN2d')
class LayerNorm2d(nn.LayerNorm):
    """Normalise each pixel's C channels; usable in any host config as
    ``norm_cfg=dict(type='mae_mm.LN2d')`` (mmcv's ``build_norm_layer`` finds it by scope).

    Args:
        num_channels (int): C.
        eps (float): Added to the variance. Defaults to 1e-6.
    """

    def __init__(self, num_channels: int, eps: float = 1e-6, **kwargs) -> None:
        super().__init__(num_channels, eps=eps, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)  # (B, H, W, C)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)
