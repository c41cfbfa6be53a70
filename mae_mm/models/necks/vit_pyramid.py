"""The MAE paper's detection adapter: four block groups of a ViT -> strides 4, 8, 16, 32."""
from typing import Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule

from mae_mm.registry import MODELS

SCALES = (4.0, 2.0, 1.0, 0.5)  # stride 16 (patch 16) -> strides 4, 8, 16, 32
SUPPORTED_SCALES = (4.0, 2.0, 1.0, 0.5, 0.25)


class Rescale(nn.Sequential):
    """Resample a (B, C, h, w) map by ``scale`` in {4, 2, 1, 0.5, 0.25}.

    Upsampling uses stride-2 2x2 transposed convolutions (two for 4x, with norm + GELU
    between them), downsampling a max pool. ``halve_channels`` halves C at each
    transposed convolution (ViTDet's simple pyramid); otherwise C is kept (BEiT / MAE).

    Args:
        scale (float): 4, 2, 1, 0.5 or 0.25.
        in_channels (int): C.
        norm_cfg (dict): Norm between the two transposed convolutions of 4x.
        halve_channels (bool): See above. Defaults to False.
    """

    def __init__(self, scale: float, in_channels: int, norm_cfg: dict,
                 halve_channels: bool = False) -> None:
        if scale not in SUPPORTED_SCALES:
            raise ValueError(f'scale must be one of {SUPPORTED_SCALES}, got {scale}')
        div = 2 if halve_channels else 1
        c, layers = in_channels, []
        if scale == 4.0:
            layers = [nn.ConvTranspose2d(c, c // div, 2, stride=2),
                      build_norm_layer(norm_cfg, c // div)[1], nn.GELU(),
                      nn.ConvTranspose2d(c // div, c // div**2, 2, stride=2)]
            c = c // div**2
        elif scale == 2.0:
            layers, c = [nn.ConvTranspose2d(c, c // div, 2, stride=2)], c // div
        elif scale < 1.0:
            layers = [nn.MaxPool2d(int(1 / scale), stride=int(1 / scale))]
        super().__init__(*layers)
        self.out_channels = c


@MODELS.register_module()
class ViTPyramid(BaseModule):
    """Rescale the outputs of four evenly spaced ViT blocks to strides 4, 8, 16 and 32.

    The paper's Mask R-CNN adaptation (Appendix A.3): the blocks are split into four
    groups; the last block of each group (``out_indices``, e.g. (2, 5, 8, 11) for ViT-B,
    with ``out_type='featmap'``) gives a stride-16 map, rescaled here by 4, 2, 1 and 0.5.
    Feed the result to mmdet's ``FPN`` by listing both as the detector's neck::

        neck=[dict(type='mae_mm.ViTPyramid', in_channels=768),
              dict(type='FPN', in_channels=[768] * 4, out_channels=256, num_outs=5)]

    Args:
        in_channels (int): The ViT width D; the outputs keep it.
        scales (Sequence[float]): One rescale factor per input, each in {4, 2, 1, 0.5, 0.25}.
            Defaults to (4, 2, 1, 0.5): strides 4-32 from patch 16; (2, 1, 0.5, 0.25) for
            patch 8.
        norm_cfg (dict): Norm inside the 4x upsampler. Defaults to ``mae_mm.LN2d``, eps 1e-6.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self, in_channels: int, scales: Sequence[float] = SCALES,
                 norm_cfg: dict = dict(type='mae_mm.LN2d', eps=1e-6), init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.rescales = nn.ModuleList(Rescale(s, in_channels, norm_cfg) for s in scales)

    def forward(self, inputs: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        """Four (B, D, h, w) maps -> (B, D, h * s, w * s) for each scale s."""
        if len(inputs) != len(self.rescales):
            raise ValueError(f'ViTPyramid has {len(self.rescales)} scales but got {len(inputs)} '
                             f'feature maps; set the backbone\'s out_indices to '
                             f'{len(self.rescales)} blocks (the last of each group)')
        return tuple(rescale(x) for rescale, x in zip(self.rescales, inputs))
