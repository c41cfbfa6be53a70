"""ViTDet's simple feature pyramid: strides 4-64 from the ViT's last stride-16 map."""
from typing import Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule

from mae_mm.registry import MODELS
from .vit_pyramid import SCALES, Rescale


class ConvNorm(nn.Sequential):
    """Conv (no bias) -> norm, the output convolutions of each pyramid level."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 norm_cfg: dict) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
            build_norm_layer(norm_cfg, out_channels)[1])


@MODELS.register_module()
class SimpleFPN(BaseModule):
    """Build a pyramid from one map (Li et al., "Exploring Plain ViT Backbones", 2022).

    The ViT's last map (B, D, h, w) at stride 16 (``out_type='featmap'``) is upsampled by
    4 and 2 (transposed convolutions, halving the channels each time), kept, and max
    pooled by 2 (``scales``: the levels must land on the strides the heads expect); each
    level then passes a 1x1 and a 3x3 conv with norm to ``out_channels``. Levels beyond
    ``len(scales)`` (P6 for Mask R-CNN's RPN) subsample the last one by 2.

    Args:
        in_channels (int): The ViT width D.
        out_channels (int): Channels of every level. Defaults to 256.
        scales (Sequence[float]): Rescale factors of the levels, each in {4, 2, 1, 0.5, 0.25}.
            Defaults to (4, 2, 1, 0.5): strides 4-32 from patch 16; (2, 1, 0.5, 0.25) for
            patch 8.
        num_outs (int): Levels returned, >= len(scales). Defaults to 5.
        norm_cfg (dict): Norm of the convolutions. Defaults to ``mae_mm.LN2d``, eps 1e-6 (ViTDet).
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self, in_channels: int, out_channels: int = 256,
                 scales: Sequence[float] = SCALES, num_outs: int = 5,
                 norm_cfg: dict = dict(type='mae_mm.LN2d', eps=1e-6), init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_outs < len(scales):
            raise ValueError(f'num_outs ({num_outs}) must be >= the number of scales '
                             f'{tuple(scales)}')
        self.num_outs = num_outs
        self.rescales = nn.ModuleList(
            Rescale(s, in_channels, norm_cfg, halve_channels=True) for s in scales)
        self.lateral_convs = nn.ModuleList(
            ConvNorm(r.out_channels, out_channels, 1, norm_cfg) for r in self.rescales)
        self.output_convs = nn.ModuleList(
            ConvNorm(out_channels, out_channels, 3, norm_cfg) for _ in self.rescales)

    def forward(self, inputs: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        """The backbone's outputs (the last one is used) -> ``num_outs`` maps (B, C_out, ., .)."""
        x = inputs[-1]  # (B, D, h, w), stride 16 for patch 16
        outs = [out(lat(rescale(x))) for rescale, lat, out in
                zip(self.rescales, self.lateral_convs, self.output_convs)]
        while len(outs) < self.num_outs:
            outs.append(F.max_pool2d(outs[-1], kernel_size=1, stride=2))
        return tuple(outs)
