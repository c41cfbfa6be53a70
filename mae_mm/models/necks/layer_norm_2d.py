"""LayerNorm over the channels of (B, C, H, W) maps: ViTDet's norm for necks and heads."""
import torch
import torch.nn as nn

from mae_mm.registry import MODELS


@MODELS.register_module(name='LN2d')
class LayerNorm2d(nn.LayerNorm):
    """Normalise each pixel's C channels; usable in any host config as
    ``norm_cfg=dict(type='mae_mm.LN2d')`` (mmcv's ``build_norm_layer`` finds it by scope).

    The output is a contiguous NCHW tensor: mmcv's CPU ``RoIAlign`` reads its input's memory
    as NCHW, so a channels-last view (what normalising a permuted tensor gives) would feed it
    wrong features without any error.

    Args:
        num_channels (int): C.
        eps (float): Added to the variance. Defaults to 1e-6.
    """

    def __init__(self, num_channels: int, eps: float = 1e-6, **kwargs) -> None:
        super().__init__(num_channels, eps=eps, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=1, keepdim=True)  # (B, 1, H, W)
        var = (x - mean).pow(2).mean(dim=1, keepdim=True)
        x = (x - mean) * torch.rsqrt(var + self.eps)
        if self.weight is not None:
            x = x * self.weight[:, None, None]
        if self.bias is not None:
            x = x + self.bias[:, None, None]
        return x
